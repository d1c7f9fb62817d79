"""The insured of a statement line: a person (split into first and last name) or an organisation
(kept whole), and names that look like spreadsheet formulas (pure rules)."""

from __future__ import annotations

import pytest
from intake.domain.insured import ORGANISATION, PERSON, classify_insured, formula_reason

ORGANISATIONS = [
    "Chen & Sons, LLC", "Chen & Sons", "Acme Widgets Inc.", "ACME WIDGETS INC", "Globex Corp", "Globex Corporation",
    "Smith Brothers Co.", "Initech Co", "Hooli Ltd", "Wayne Enterprises Limited", "Baker & McKenzie LLP",
    "Rivera Dental PLLC", "Patel Family Trust", "The Johnson Revocable Trust", "Pacific Mutual Insurance Company",
    "Lone Star Insurance Agency", "Northwind Group", "Blue Sky Partners", "Nguyen & Associates", "Keystone Holdings",
    "First Baptist Church", "Grace Community Church of Austin", "Lincoln Elementary School", "Springfield Academy",
    "Mario's Pizza DBA Mario's Restaurant", "John Smith dba Smith Plumbing", "Jane Roe d/b/a Roe Realty",
    "L.L.C. Holdings of Texas", "Main Street Bakery", "Estate of Mary Jones", "City of Springfield",
    "Smith & Wesson", "Procter & Gamble", "Ortiz Construction", "7-Eleven Store 123", "A1 Auto Repair",
    "Harbor View Homeowners Association", "Kim Law Firm", "Sunrise Farms", "Dunder Mifflin Paper Company",
    "O'Brien Roofing & Sons", "Oakwood Apartments", "St. Mary's Hospital", "Green Valley Ranch LLC",
    "Rocky Mountain Trucking, Inc.", "The Home Depot", "Wells Fargo Bank, N.A.", "Tri-County Electric Cooperative",
]

PEOPLE = [
    # (name, first, last)
    ("Smith, John", "John", "Smith"),
    ("John Smith", "John", "Smith"),
    ("John A Smith", "John A", "Smith"),
    ("Smith, John A.", "John A.", "Smith"),
    ("  Mary   Jones ", "Mary", "Jones"),
    ("Cher", None, "Cher"),
    ("John Smith Jr.", "John", "Smith Jr."),
    ("Smith, John, Jr.", "John", "Smith Jr."),
    ("Smith Jr., John", "John", "Smith Jr."),
    ("Robert Downey III", "Robert", "Downey III"),
    ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
    ("Maria de la Cruz", "Maria", "de la Cruz"),
    ("Dr. Jane Doe", "Jane", "Doe"),
    ("Mr & Mrs John Smith", "John", "Smith"),
    ("John & Mary Smith", "John & Mary", "Smith"),
    ("Smith, John & Mary", "John & Mary", "Smith"),
    ("Jude Law", "Jude", "Law"),
    ("Church, Charlotte", "Charlotte", "Church"),
    ("Tyra Banks", "Tyra", "Banks"),
    ("Coco Chanel", "Coco", "Chanel"),
    ("Incy Wincy", "Incy", "Wincy"),
    ("Connie Colby", "Connie", "Colby"),
]


@pytest.mark.parametrize("name", ORGANISATIONS)
def test_organisations_keep_their_whole_name_and_no_first_or_last(name: str) -> None:
    insured = classify_insured(name)
    assert insured.kind == ORGANISATION, name
    assert insured.name == " ".join(name.split())
    assert (insured.first_name, insured.last_name) == (None, None)


@pytest.mark.parametrize(("name", "first", "last"), PEOPLE)
def test_people_are_split_into_first_and_last_name(name: str, first: str | None, last: str) -> None:
    insured = classify_insured(name)
    assert insured.kind == PERSON, name
    assert (insured.first_name, insured.last_name) == (first, last)
    assert insured.name == " ".join(name.split())


def test_a_title_is_kept_apart_from_the_first_name() -> None:
    assert classify_insured("Dr. Jane Doe").title == "Dr."
    assert classify_insured("Mr & Mrs John Smith").title == "Mr & Mrs"
    assert classify_insured("John Smith").title is None


def test_the_business_the_issue_names_is_not_split_into_first_llc_last_chen_and_sons() -> None:
    insured = classify_insured("Chen & Sons, LLC")
    assert insured.kind == ORGANISATION and insured.name == "Chen & Sons, LLC"
    assert insured.first_name is None and insured.last_name is None


@pytest.mark.parametrize("name", [
    "=HYPERLINK(\"http://x\",\"Click\")", "=1+1", "+1-555-0100", "-2+3", "@SUM(A1:A2)", "\t=cmd", "\rJohn",
    "  =SUM(A1)",
])
def test_formula_looking_names_are_refused_with_a_reason(name: str) -> None:
    reason = formula_reason(name)
    assert reason is not None and "formula" in reason


@pytest.mark.parametrize("name", ["Jane Roe", "Chen & Sons, LLC", "O'Brien, Pat", "A=B Consulting", "Smith-Jones, Ann"])
def test_ordinary_names_are_not_formulas(name: str) -> None:
    assert formula_reason(name) is None
