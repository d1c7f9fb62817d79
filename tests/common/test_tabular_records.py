"""agency_common.tabular's rows by header (``open_records``) and its strict quotes (issue 13 item 14)."""

from __future__ import annotations

import pytest
from agency_common.tabular import TabularError, open_records


def test_rows_by_header_from_bytes_keep_every_value_and_the_line_they_start_on() -> None:
    content = '\ufeffName,,Note\r\n\r\nAnn,,"two\r\nlines"\r\nBo,lost?,x,extra\r\n'.encode()
    records = open_records(content, "f.csv", name=str.lower)
    assert (records.header, records.header_line, records.info.encoding) == (["name", "", "note"], 1, "utf-8-sig")
    rows = [(r.line, r.values, r.extra, r.blank) for r in records.rows]
    assert rows == [(2, {"name": "", "note": ""}, [], True),
                    (3, {"name": "Ann", "note": "two\r\nlines"}, [], False),
                    (5, {"name": "Bo", "note": "x"}, ["lost?", "extra"], False)]


def test_a_column_named_twice_and_a_quote_left_open_are_errors() -> None:
    with pytest.raises(TabularError, match=r"column 'state' appears twice: column 1 \('State'\) and column 2"):
        open_records(b"State,STATE\r\nCA,TX\r\n", name=str.lower)
    rows = open_records(b'a,b\r\n1,"multi\r\nline"\r\n2,"open\r\n3,"x"\r\n').rows
    assert next(rows).line == 2
    with pytest.raises(TabularError, match="line 4: a quoted value opened on this line is not closed"):
        list(rows)
    with pytest.raises(TabularError, match="no header row"):
        open_records(b"\r\n,,\r\n")
