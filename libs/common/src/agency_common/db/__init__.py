from agency_common.db.engine import Database, make_engine, normalise_url
from agency_common.db.types import ExactDecimal, Money, Rate, UTCDateTime

__all__ = ["Database", "ExactDecimal", "Money", "Rate", "UTCDateTime", "make_engine", "normalise_url"]
