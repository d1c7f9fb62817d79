"""The demo dataset itself: the carriers, statements, producers, company and upstream jobs and
activities that ``agency_platform.demo`` loads through the services' APIs and Kafka."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from agency_common.contracts.envelope import make_envelope
from agency_common.contracts.upstream import ActivityUpserted, PolicyJobUpserted, PolicyPeriod
from aiokafka import AIOKafkaProducer

DEMO_CARRIER = "Acme Mutual"
SECOND_CARRIER = "Harbor P&C"
# The carrier registry: carriers are registered explicitly before statements or policies name them.
DEMO_CARRIERS: list[dict[str, Any]] = [
    {"name": DEMO_CARRIER, "naic_code": "12345", "aliases": ["Acme Mutual Insurance Co", "AMIC"],
     "subordinates": ["Acme Casualty"],
     "addresses": ["100 Insurance Way\nHartford, CT 06103", "PO Box 4400\nHartford, CT 06101"]},
    {"name": SECOND_CARRIER, "naic_code": "23456", "aliases": ["Harbor Property & Casualty"],
     "addresses": ["1 Harbor Plaza\nBoston, MA 02110"]},
]

# (policy number, client, line of business, effective date, premium)
BOOK: list[tuple[str, str, str, str, str]] = [
    ("AM-1001", "Jane Roe", "Personal Auto", "2026-01-15", "1234.56"),
    ("AM-1002", "John Smith", "Homeowners", "2026-02-01", "980.00"),
    ("AM-1003", "Maria Garcia", "Personal Auto", "2026-03-01", "1410.00"),
    ("AM-1004", "Wei Chen", "Umbrella", "2026-03-15", "350.00"),
    ("AM-1005", "Fatima Khan", "Homeowners", "2026-04-01", "1120.00"),
    ("AM-1006", "Liam O'Brien", "Personal Auto", "2026-04-20", "860.00"),
    ("AM-1007", "Olivia Brown", "Dwelling Fire", "2026-05-01", "640.00"),
    ("AM-1008", "Noah Wilson", "Personal Auto", "2026-06-01", "1500.00"),
    ("AM-1009", "Emma Davis", "Homeowners", "2026-06-15", "1325.00"),
    ("AM-1010", "Lucas Martin", "Commercial Auto", "2026-07-01", "4200.00"),
    ("AM-1011", "Ava Thompson", "Personal Auto", "2026-08-01", "990.00"),
    ("AM-1012", "Mia Johnson", "Homeowners", "2026-09-01", "1075.00"),
]

# Details the CRM knows about some of the book's clients (matched by name) and a few prospects.
CRM_DETAILS: dict[str, dict[str, Any]] = {
    "Jane Roe": {"state": "TX", "city": "Austin", "zip_code": "78701", "primary_email": "jane.roe@example.com",
                 "servicing_agent": "Dana Whitfield", "lead_source": "Referral", "gender": "F"},
    "John Smith": {"state": "TX", "city": "Dallas", "zip_code": "75201", "servicing_agent": "Dana Whitfield",
                   "lead_source": "Web"},
    "Maria Garcia": {"state": "CA", "city": "San Diego", "zip_code": "92101", "servicing_agent": "Riley Garcia",
                     "lead_source": "Referral", "gender": "F"},
    "Noah Wilson": {"state": "FL", "city": "Tampa", "zip_code": "33602", "servicing_agent": "Avery Nguyen",
                    "lead_source": "Event"},
}
PROSPECTS: list[dict[str, Any]] = [
    {"first_name": "Grace", "last_name": "Lee", "state": "GA", "city": "Atlanta", "record_status": "prospect",
     "lead_source": "Web", "dob": "1958-04-02", "ssn": "123-45-6789", "medicare_id": "1EG4-TE5-MK73"},
    {"first_name": "Henry", "last_name": "Walker", "state": "TX", "city": "Houston", "record_status": "prospect",
     "lead_source": "Event", "smoker_status": "non-smoker"},
]

def _csv(rows: list[str]) -> str:
    return "".join(f"{row}\r\n" for row in rows)


STATEMENT_HEADER = ["Policy #", "Named Insured", "Trans Type", "Eff Date", "Exp Date", "LOB", "Premium", "Comm %",
                    "Comm Amt"]


def statement_csv() -> str:
    """A carrier statement as carriers send them: title lines above the header, money as ``$1,234.56``
    and ``(100.00)``, rates as ``15%`` and ``0.15``; nine lines of the book, three policies the book
    does not have yet, two invalid rows and one blank row."""
    rows = [
        "Acme Mutual commission statement",
        "Period: 2026-10",
        "",
        ",".join(STATEMENT_HEADER),
        'AM-1001,Jane Roe,NBS,01/15/2026,01/15/2027,Personal Auto,"$1,234.56",15%,185.18',
        "am 1002,John Smith,PCH,2026-02-01,2027-02-01,Homeowners,(100.00),0.15,(15.00)",
        "AM-1003,Maria Garcia,END,03/01/2026,03/01/2027,Personal Auto,210.00,12%,25.20",
        "AM-1004,Wei Chen,NBS,03/15/2026,03/15/2027,Umbrella,350.00,10%,35.00",
        ",,,,,,,,",
        "AM-1005,Fatima Khan,INS,04/01/2026,04/01/2027,Homeowners,280.00,15%,42.00",
        "AM-1006,Liam O'Brien,NBS,04/20/2026,04/20/2027,Personal Auto,860.00,15%,129.00",
        "AM-1008,Noah Wilson,AUD,06/01/2026,06/01/2027,Personal Auto,75.00,15%,11.25",
        'BAD-1,"=HYPERLINK(""http://x"")",ZZZ,31/31/2026,,Personal Auto,abc,15%,',
        "AM-1009,Emma Davis,NBS,06/15/2026,06/15/2027,Homeowners,1325.00,15%,198.75",
        "AM-1010,Lucas Martin,NBS,07/01/2026,07/01/2027,Commercial Auto,4200.00,12.5%,525.00",
        "AM-2001,Sofia Rossi,NBS,10/01/2026,10/01/2027,Personal Auto,720.00,15%,108.00",
        "AM-2002,Daniel Park,NBS,10/05/2026,10/05/2027,Homeowners,1010.00,15%,151.50",
        "AM-2003,Sofia Rossi,NBS,10/05/2026,10/05/2027,Umbrella,300.00,10%,30.00",
        ",Missing Number,NBS,10/07/2026,10/07/2027,Personal Auto,500.00,15%,75.00",
    ]
    return _csv(rows)


def second_statement_csv() -> str:
    return _csv([
        "Policy No;Insured Name;Transaction;Effective;Expiration;Line of Business;Written Premium;Commission Rate;Commission",
        "HP-501;Carlos Mendez;NEW;11/01/2026;11/01/2027;Homeowners;1450.00;12%;174.00",
        "HP-502;Priya Shah;NEW;11/03/2026;11/03/2027;Dwelling Fire;820.00;12%;98.40",
        "HP-503;Carlos Mendez;NEW;11/03/2026;11/03/2027;Personal Auto;990.00;12%;118.80",
        ";;;;;;;;",
        "HP-504;Ethan Cole;XYZ;13/45/2026;;Homeowners;n/a;12%;",
    ])


PRODUCERS_CSV = _csv([
    "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,Scorecard Type,Agent Type,CoCodes",
    "8800002,Dana,Whitfield,1234567,dana.whitfield@example.com,123-45-6789,Life & Health,CA;TX,License and Appointment,Producer,60054",
    "8800001,Avery,Nguyen,4455667,avery.nguyen@example.com,,Life & Health;Property & Casualty,TX;FL;GA,License,Producer,",
    "8800001,Jordan,Patel,5566778,,,,,,,",
    "8800003,Riley,Garcia,6677889,riley.garcia@example.com,987654321,Life & Health,CA,License and Appointment,Captive Agent,60054;60055",
    ",,,,,,,,,,",
    "9999999,Bad,Agency,7788990,,,,,,,",
    "8800001,Bad,Values,8899001,not-an-email,,Life & Health,CA; TX,License,Wizard,",
])

DEMO_COMPANY = {"name": "Prairie Life Assurance Company", "cocodes": "61999", "loa_categories": "Life & Health",
                "fein": "470000001"}
DEMO_COMPANY_STATES = [
    {"cocode": "61999", "state": "TX", "appoints": "true", "jit": "false", "company_license_id": "61999-TX",
     "effective_date": "2024-01-01", "source": "Carrier onboarding checklist (demo dataset)"},
    {"cocode": "61999", "state": "FL", "appoints": "true", "jit": "true", "company_license_id": "61999-FL",
     "effective_date": "2024-01-01", "source": "Carrier onboarding checklist (demo dataset)"},
]

USERS = [("avery", "service_team"), ("blake", "service_team"), ("casey", "underwriting"), ("devon", "underwriting"),
         ("emery", "renewals")]
JOB_TYPES = ["submission", "renewal", "policy_change", "cancellation", "reinstatement", "rewrite", "audit"]
ACTIVITY_SUBJECTS = ["Call back insured", "Collect signed application", "Review loss runs", "Send renewal quote",
                     "Verify driver list", "Follow up on audit"]



def upstream_events(now: datetime | None = None) -> list[Any]:
    """Upstream jobs and activities over the Team Screens windows (today, this week, this month)."""
    now = now or datetime.now(UTC)
    events: list[Any] = []
    for i in range(28):
        user, group = USERS[i % len(USERS)]
        job_type = JOB_TYPES[i % len(JOB_TYPES)]
        created = now - timedelta(hours=3 + 9 * i)
        closed = created + timedelta(hours=2) if i % 3 == 0 else None
        periods = [PolicyPeriod(model_number=1 if i % 4 == 0 else None, locked=i % 5 == 0,
                                status="non_renewed" if i % 10 == 5 else ("not_taken" if i % 10 == 0 else "bound"))]
        events.append(PolicyJobUpserted(job_id=f"DEMO-JOB-{i + 1:03d}", version=1, job_type=job_type,  # type: ignore[arg-type]
                                        assigned_user=user, assigned_group=group, create_time=created,
                                        close_date=closed, periods=periods))
    for i in range(24):
        user, group = USERS[(i + 2) % len(USERS)]
        status = "completed" if i % 3 == 0 else "open"
        target = now + timedelta(hours=-20 + 4 * i)
        events.append(ActivityUpserted(activity_id=f"DEMO-ACT-{i + 1:03d}", version=1,
                                       subject=ACTIVITY_SUBJECTS[i % len(ACTIVITY_SUBJECTS)], assigned_user=user,
                                       assigned_group=group, status=status, target_date=target,  # type: ignore[arg-type]
                                       close_date=now - timedelta(hours=1 + i % 5) if status == "completed" else None))
    return events


async def publish_upstream(bootstrap: str, payloads: list[Any], actor: str = "policy-admin") -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        correlation = f"demo-{uuid.uuid4()}"
        for payload in payloads:
            env = make_envelope(payload, producer="demo-upstream", actor=actor, correlation_id=correlation)
            await producer.send(type(payload).topic, env.to_bytes(), key=payload.key().encode(),
                                headers=[(k, v.encode()) for k, v in env.headers().items()])
        await producer.flush()
    finally:
        await producer.stop()
    return len(payloads)
