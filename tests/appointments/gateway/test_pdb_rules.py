"""The PDB entity report parser (DOMAIN-FACTS §1.2 structure) on sample documents: several states
and license classes, "Yes"/"Y"/"No"/"N", "Resident"/"Non-Resident", lines of authority by their
STATUS, firms, errors, and XML that must not be expanded."""

from __future__ import annotations

from datetime import date

import pytest
from appointments.gateway.pdb import PdbError, check_npn, parse_entity_report, residency, yes_no

SAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<PDB>
  <TRANSACTION_TYPE><TYPE>INDIVIDUAL</TYPE></TRANSACTION_TYPE>
  <PRODUCER>
    <INDIVIDUAL>
      <ENTITY_BIOGRAPHIC>
        <BIOGRAPHIC>
          <NAME_FIRST>Dana</NAME_FIRST><NAME_MIDDLE>R</NAME_MIDDLE><NAME_LAST>Whitfield</NAME_LAST>
          <DATE_BIRTH>01/02/1980</DATE_BIRTH>
        </BIOGRAPHIC>
        <CONTACT_INFOS><STATE name="TX"><CONTACT_INFO><BUSINESS_EMAIL>dana@example.com</BUSINESS_EMAIL></CONTACT_INFO></STATE></CONTACT_INFOS>
      </ENTITY_BIOGRAPHIC>
      <PRODUCER_LICENSING>
        <LICENSE_INFORMATION>
          <STATE name="TX">
            <LICENSE>
              <LICENSE_NUM>2345678</LICENSE_NUM><DATE_UPDATED>05/01/2025</DATE_UPDATED>
              <DATE_ISSUE_LICENSE_ORIG>03/15/2012</DATE_ISSUE_LICENSE_ORIG>
              <DATE_EXPIRE_LICENSE>03/31/2027</DATE_EXPIRE_LICENSE>
              <LICENSE_CLASS>General Lines Agent</LICENSE_CLASS><LICENSE_CLASS_CODE>12</LICENSE_CLASS_CODE>
              <RESIDENCY_STATUS>Resident</RESIDENCY_STATUS><ACTIVE>Yes</ACTIVE><ADHS>N</ADHS>
              <DETAILS>
                <DETAIL><LOA>Life, Accident and Health</LOA><LOA_CODE>14</LOA_CODE><AUTHORITY_ISSUE_DATE>03/15/2012</AUTHORITY_ISSUE_DATE><STATUS>Active</STATUS></DETAIL>
                <DETAIL><LOA>Life Agent</LOA><LOA_CODE>15</LOA_CODE><STATUS>Active</STATUS></DETAIL>
                <DETAIL><LOA>Health Maintenance Organization (HMO)</LOA><STATUS>Inactive</STATUS><STATUS_REASON>Voluntary</STATUS_REASON></DETAIL>
              </DETAILS>
            </LICENSE>
          </STATE>
          <STATE name="CA">
            <LICENSE>
              <LICENSE_NUM>0A12345</LICENSE_NUM><DATE_EXPIRE_LICENSE>2026-06-30</DATE_EXPIRE_LICENSE>
              <LICENSE_CLASS>Insurance Producer</LICENSE_CLASS><RESIDENCY_STATUS>Non-Resident</RESIDENCY_STATUS><ACTIVE>Y</ACTIVE>
              <DETAILS><DETAIL><LOA>Life</LOA><STATUS>Active</STATUS></DETAIL>
                       <DETAIL><LOA>Accident &amp; Health or Sickness (including Disability)</LOA><STATUS>Active</STATUS></DETAIL></DETAILS>
            </LICENSE>
            <LICENSE>
              <LICENSE_NUM>0B99999</LICENSE_NUM><LICENSE_CLASS>Limited Lines Producer</LICENSE_CLASS>
              <RESIDENCY_STATUS>Non-Resident</RESIDENCY_STATUS><ACTIVE>N</ACTIVE>
              <DETAILS><DETAIL><LOA>Travel</LOA><STATUS>Expired</STATUS></DETAIL></DETAILS>
            </LICENSE>
            <APPOINTMENT_INFORMATION><APPOINTMENT><COMPANY_NAME>Summit Mutual Life</COMPANY_NAME><COCODE>60054</COCODE>
              <LINE_OF_AUTHORITY>Life</LINE_OF_AUTHORITY><STATUS>Appointed</STATUS></APPOINTMENT></APPOINTMENT_INFORMATION>
          </STATE>
          <STATE name="FL">
            <LICENSE><LICENSE_NUM>W123456</LICENSE_NUM><LICENSE_CLASS>Life Including Variable Annuity</LICENSE_CLASS>
              <RESIDENCY_STATUS>Non-Resident</RESIDENCY_STATUS><ACTIVE>No</ACTIVE></LICENSE>
          </STATE>
        </LICENSE_INFORMATION>
      </PRODUCER_LICENSING>
    </INDIVIDUAL>
  </PRODUCER>
</PDB>"""


def test_individual_report() -> None:
    p = parse_entity_report(SAMPLE, "0012345")
    assert (p.npn, p.first_name, p.last_name, p.active) == ("0012345", "Dana", "Whitfield", True)
    by = {(lic.state, lic.license_number): lic for lic in p.licenses}
    assert list(by) == [("TX", "2345678"), ("CA", "0A12345"), ("CA", "0B99999"), ("FL", "W123456")]
    tx = by[("TX", "2345678")]
    assert (tx.license_class, tx.resident, tx.active) == ("General Lines Agent", True, True)
    assert (tx.effective_date, tx.expiration_date) == (date(2012, 3, 15), date(2027, 3, 31))
    assert tx.lines_of_authority == ["Life, Accident and Health", "Life Agent"]  # the inactive HMO line left out
    ca = by[("CA", "0A12345")]
    assert (ca.resident, ca.active, ca.expiration_date) == (False, True, date(2026, 6, 30))
    assert ca.lines_of_authority == ["Life", "Accident & Health or Sickness (including Disability)"]
    limited = by[("CA", "0B99999")]
    assert (limited.active, limited.lines_of_authority, limited.effective_date) == (False, [], None)
    assert by[("FL", "W123456")].active is False


def test_firm_error_and_not_found() -> None:
    firm = parse_entity_report(
        "<PDB><TRANSACTION_TYPE><TYPE>FIRM</TYPE></TRANSACTION_TYPE><PRODUCER><FIRM><ENTITY_BIOGRAPHIC><BIOGRAPHIC>"
        "<NAME_COMPANY>Lone Star Brokerage LLC</NAME_COMPANY></BIOGRAPHIC></ENTITY_BIOGRAPHIC></FIRM></PRODUCER></PDB>",
        "8800002")
    assert (firm.last_name, firm.licenses, firm.active) == ("Lone Star Brokerage LLC", (), False)
    assert parse_entity_report("<PDB><TRANSACTION_TYPE><TYPE>ERROR</TYPE><ERROR><DESCRIPTION>Producer not found"
                               "</DESCRIPTION></ERROR></TRANSACTION_TYPE></PDB>", "9123456") is None
    with pytest.raises(PdbError, match="customer number"):
        parse_entity_report("<PDB><TRANSACTION_TYPE><TYPE>ERROR</TYPE></TRANSACTION_TYPE>"
                            "<ERROR><DESCRIPTION>Invalid customer number</DESCRIPTION></ERROR></PDB>", "1")
    with pytest.raises(PdbError):
        parse_entity_report("<Results/>", "1")


def test_entities_are_not_expanded() -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE PDB [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            "<PDB><TRANSACTION_TYPE><TYPE>&b;</TYPE></TRANSACTION_TYPE></PDB>")
    with pytest.raises(Exception, match="(?i)entit"):
        parse_entity_report(bomb, "1")


def test_normalisers() -> None:
    assert [yes_no(x) for x in ("Yes", "Y", "y", "No", "N", " no ")] == [True, True, True, False, False, False]
    assert [residency(x) for x in ("Resident", "Non-Resident", "NON RESIDENT", "nonresident")] == \
        [True, False, False, False]
    with pytest.raises(PdbError):
        yes_no("Maybe")
    assert check_npn("0000123") == "0000123"  # a string: leading zeros are part of it
    for bad in ("", "12345678901", "12a", "1 2"):
        with pytest.raises(ValueError):
            check_npn(bad)
