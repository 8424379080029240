#!/usr/bin/env python3
"""Build the fictional "Halvorsen Robotics AS" sample corpus.

Document text lives in samples/_source/ (a small Markdown dialect) and in the
CSV tables below; this script renders each source into its target format
(PDF, scanned PDF, DOCX, PPTX, HTML, Markdown, EML, CSV, TXT) and writes
manifest.json and questions.jsonl.

Output is deterministic: all dates are fixed, ZIP member timestamps are
normalised and scan "noise" uses a seeded RNG.

Requirements: python-docx python-pptx fpdf2 pillow pypdf
Usage:        python samples/build_samples.py
"""
from __future__ import annotations

import csv
import datetime as dt
import email.policy
import html
import io
import json
import math
import random
import re
import zipfile
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "_source"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
COMPANY = "Halvorsen Robotics AS"
FIXED_ZIP_TIME = (2025, 11, 24, 12, 0, 0)
OSLO_TZ = dt.timezone(dt.timedelta(hours=1))  # CET (all fixed dates are in winter time or irrelevant)


def d(y, m, day, h=9, mi=0):
    return dt.datetime(y, m, day, h, mi, 0, tzinfo=OSLO_TZ)


# ---------------------------------------------------------------------------
# Groups, users and documents (single source of truth for the manifest)
# ---------------------------------------------------------------------------
GROUPS = ["everyone", "hr", "it", "engineering", "finance", "board"]

USERS = [
    {"name": "alice", "full_name": "Alice Nygaard", "title": "Head of People",
     "groups": ["everyone", "hr"], "role": "owner"},
    {"name": "ivar", "full_name": "Ivar Lunde", "title": "Head of IT and Security",
     "groups": ["everyone", "it"], "role": "admin"},
    {"name": "marta", "full_name": "Marta Kowalska", "title": "VP Engineering (Gdańsk)",
     "groups": ["everyone", "engineering"], "role": "employee"},
    {"name": "farid", "full_name": "Farid Haddad", "title": "Finance Controller",
     "groups": ["everyone", "finance"], "role": "employee"},
    {"name": "bjorn", "full_name": "Bjørn Aasen", "title": "Chair of the Board (non-executive)",
     "groups": ["everyone", "board"], "role": "employee"},
    {"name": "sofie", "full_name": "Sofie Berg", "title": "Sales Manager",
     "groups": ["everyone"], "role": "employee"},
    {"name": "nina", "full_name": "Nina Solberg", "title": "External contractor (technical writer)",
     "groups": [], "role": "employee"},
]

# path, type, title, groups, public, owner, source (relative to _source), date
DOCS = [
    # HR
    ("hr/parental-leave-policy.pdf", "pdf", "Parental Leave Policy (HR-POL-004)",
     ["everyone"], False, "alice", "hr/parental-leave-policy.md", d(2024, 12, 9)),
    ("hr/leave-and-remote-work-handbook.docx", "docx", "Leave and Remote Work Handbook (HR-HB-002)",
     ["everyone"], False, "alice", "hr/leave-and-remote-work-handbook.md", d(2025, 2, 3)),
    ("hr/contractors-vs-employees.md", "md", "Contractors vs Employees: Guidelines for Managers",
     ["everyone"], False, "alice", "hr/contractors-vs-employees.md", d(2025, 8, 14)),
    ("hr/onboarding-checklist.html", "html", "Onboarding Checklist for New Employees",
     ["everyone"], False, "alice", "hr/onboarding-checklist.md", d(2025, 10, 6)),
    ("hr/salary-bands-2025.csv", "csv", "Salary Bands 2025",
     ["hr"], False, "alice", None, d(2025, 4, 1)),
    # IT
    ("it/information-security-sop.pdf", "pdf", "Information Security SOP (IT-SOP-001)",
     ["everyone"], False, "ivar", "it/information-security-sop.md", d(2025, 9, 1)),
    ("it/incident-response-contacts.html", "html", "Incident Response Contacts and Escalation",
     ["it", "engineering"], False, "ivar", "it/incident-response-contacts.md", d(2025, 10, 20)),
    ("it/vpn-setup-guide.md", "md", "VPN Setup Guide: Halvorsen Connect",
     ["everyone"], False, "ivar", "it/vpn-setup-guide.md", d(2025, 9, 12)),
    ("it/security-awareness-2025.pptx", "pptx", "Security Awareness Training 2025",
     ["everyone"], False, "ivar", "it/security-awareness-2025.md", d(2025, 11, 5)),
    ("it/visitor-badge-procedure.pdf", "scanned-pdf", "Visitor and Badge Procedure (FAC-PRO-007, scanned)",
     ["everyone"], False, "ivar", "it/visitor-badge-procedure.txt", d(2025, 6, 18)),
    ("it/mfa-enforcement-notice.eml", "eml", "E-mail: Mandatory MFA from 1 December 2025",
     ["everyone"], False, "ivar", "it/mfa-enforcement-notice.txt", d(2025, 11, 3, 8, 12)),
    # Engineering
    ("engineering/fleet-controller-deploy-runbook.md", "md", "Runbook: Deploying the fleet-controller Service",
     ["engineering"], False, "marta", "engineering/fleet-controller-deploy-runbook.md", d(2025, 11, 4)),
    ("engineering/database-failover-runbook.docx", "docx", "Runbook: Fleet Database Failover (ENG-RB-014)",
     ["engineering"], False, "marta", "engineering/database-failover-runbook.md", d(2025, 9, 22)),
    ("engineering/on-call-rotation-2026-q1.csv", "csv", "On-call Rotation Q1 2026",
     ["engineering"], False, "marta", None, d(2025, 11, 20)),
    ("engineering/fleet-controller-4.7-release-notes.txt", "txt", "fleet-controller 4.7 Release Notes",
     ["engineering"], False, "marta", "engineering/fleet-controller-4.7-release-notes.txt", d(2025, 11, 4)),
    # Finance
    ("finance/expense-policy.pdf", "pdf", "Travel and Expense Policy (FIN-POL-002)",
     ["everyone", "finance"], False, "farid", "finance/expense-policy.md", d(2025, 3, 1)),
    ("finance/expense-approval-thresholds.csv", "csv", "Expense Approval Thresholds",
     ["everyone", "finance"], False, "farid", None, d(2025, 3, 1)),
    ("finance/travel-policy-addendum-2025.pdf", "scanned-pdf", "Travel Policy Addendum 2025-01 (signed, scanned)",
     ["everyone"], False, "farid", "finance/travel-policy-addendum-2025.txt", d(2025, 9, 2)),
    ("finance/q3-2025-finance-review.pptx", "pptx", "Q3 2025 Finance Review",
     ["finance"], False, "farid", "finance/q3-2025-finance-review.md", d(2025, 10, 16)),
    # Board
    ("board/project-fjord-acquisition-memo.docx", "docx", "Board Memorandum: Project Fjord (acquisition of Brekke Sensorteknikk AS)",
     ["board"], False, "bjorn", "board/project-fjord-acquisition-memo.md", d(2025, 11, 24)),
    # General
    ("general/office-guide.html", "html", "Office Guide: Oslo and Gdańsk",
     ["everyone"], True, "alice", "general/office-guide.md", d(2025, 10, 1)),
    ("general/holiday-calendar-2026.csv", "csv", "Holiday Calendar 2026 (Oslo and Gdańsk)",
     ["everyone"], True, "alice", None, d(2025, 11, 1)),
    ("general/org-chart.csv", "csv", "Organisation Chart (key roles)",
     ["everyone"], False, "alice", None, d(2025, 11, 1)),
    ("general/all-hands-2025-11.eml", "eml", "E-mail: All-hands recap, November 2025",
     ["everyone"], False, "alice", "general/all-hands-2025-11.md", d(2025, 11, 14, 16, 5)),
    ("general/press-release-gdansk-expansion.txt", "txt", "Press Release: Gdańsk Engineering Office Expansion",
     ["everyone"], True, "sofie", "general/press-release-gdansk-expansion.txt", d(2025, 10, 7)),
]

USER_FULL = {u["name"]: u["full_name"] for u in USERS}

# ---------------------------------------------------------------------------
# CSV data
# ---------------------------------------------------------------------------
SALARY_BANDS_HEADER = ["band", "level_name", "example_titles", "location", "currency", "pay_period",
                       "min", "midpoint", "max", "effective_from"]
_SB_OSLO = [
    ("E1", "Junior Engineer", "Graduate Software Engineer; Junior Test Engineer", 560000, 620000, 680000),
    ("E2", "Engineer", "Software Engineer; Robotics Engineer", 650000, 730000, 810000),
    ("E3", "Senior Engineer", "Senior Software Engineer; Site Reliability Engineer", 780000, 880000, 980000),
    ("E4", "Staff Engineer", "Staff Engineer; Robotics Safety Lead", 930000, 1050000, 1170000),
    ("E5", "Principal Engineer", "Principal Engineer", 1100000, 1250000, 1400000),
    ("M1", "Team Lead", "Team Lead; Field Service Lead", 900000, 1020000, 1140000),
    ("M2", "Head of Function", "Head of IT and Security; Hardware Engineering Manager", 1080000, 1230000, 1380000),
    ("M3", "Vice President", "VP Engineering; VP Sales; VP Operations", 1300000, 1500000, 1700000),
    ("O1", "Technician", "Test Hall Technician; IT Service Desk Technician", 480000, 530000, 580000),
    ("O2", "Senior Technician", "Senior Technician; Office Manager", 540000, 600000, 660000),
    ("G1", "Specialist", "Accountant; People Partner; Account Manager", 600000, 680000, 760000),
    ("G2", "Senior Specialist", "Finance Controller; Product Manager", 720000, 820000, 920000),
]
_SB_GDN = [
    ("E1", "Junior Engineer", "Graduate Software Engineer", 9000, 11000, 13000),
    ("E2", "Engineer", "Software Engineer; Robotics Software Engineer", 13000, 16000, 19000),
    ("E3", "Senior Engineer", "Senior Software Engineer; Site Reliability Engineer", 18000, 22000, 26000),
    ("E4", "Staff Engineer", "Staff Engineer", 24000, 28500, 33000),
    ("E5", "Principal Engineer", "Principal Engineer", 30000, 35000, 40000),
    ("M1", "Team Lead", "Fleet Platform Team Lead; SRE Lead", 22000, 26500, 31000),
    ("M2", "Head of Function", "Engineering Manager", 28000, 33000, 38000),
    ("M3", "Vice President", "VP Engineering", 34000, 40000, 46000),
    ("O2", "Senior Technician", "IT Support Technician; Office Coordinator", 8000, 9500, 11000),
    ("G1", "Specialist", "Product Manager; HR and Office Coordinator", 10000, 12000, 14000),
]
SALARY_BANDS = (
    [[b, n, t, "Oslo", "NOK", "annual", mn, md, mx, "2025-04-01"] for b, n, t, mn, md, mx in _SB_OSLO]
    + [[b, n, t, "Gdańsk", "PLN", "monthly", mn, md, mx, "2025-04-01"] for b, n, t, mn, md, mx in _SB_GDN]
)

APPROVAL_HEADER = ["rule_id", "expense_type", "amount_from_nok", "amount_to_nok", "first_approver",
                   "second_approver", "notes"]
APPROVAL_ROWS = [
    ["AT-01", "Any expense claim", "0", "4999", "Line manager", "", "Approved in Spendly; auto-approved if under NOK 500 and receipt attached"],
    ["AT-02", "Any expense claim", "5000", "24999", "Department head", "", "Line manager is notified"],
    ["AT-03", "Any expense claim", "25000", "99999", "Department head", "CFO", "Both approvals required before payment"],
    ["AT-04", "Any expense claim", "100000", "", "CEO", "CFO", "Includes all single purchases of NOK 100,000 or more"],
    ["AT-05", "Client entertainment", "0", "", "Department head", "", "Pre-approval required; limit NOK 900 per person"],
    ["AT-06", "Hotel above policy limit", "0", "", "Department head", "", "Approve before booking"],
    ["AT-07", "Business class flight", "0", "", "CEO", "", "Pre-approval required"],
    ["AT-08", "Equipment purchase (capital expenditure)", "15000", "", "Department head", "Finance Controller", "Asset is registered in the fixed-asset register"],
    ["AT-09", "Training courses and conferences", "10000", "", "Department head", "People team", "Course must be relevant to the role"],
    ["AT-10", "Own expenses of a department head", "0", "", "CFO", "", ""],
    ["AT-11", "Own expenses of the CFO", "0", "", "CEO", "", ""],
    ["AT-12", "Own expenses of the CEO", "0", "", "Chair of the Board", "", "Reviewed quarterly by the board"],
    ["AT-13", "Any expense claim in PLN", "0", "", "As for NOK", "", "PLN amounts are converted at the monthly Norges Bank rate"],
]

HOLIDAY_HEADER = ["date", "weekday", "name", "office", "type", "office_closed", "notes"]
_HOL = [
    ("2026-01-01", "New Year's Day", "Oslo", "public holiday", "yes", ""),
    ("2026-01-01", "New Year's Day", "Gdańsk", "public holiday", "yes", ""),
    ("2026-01-06", "Epiphany (Trzech Króli)", "Gdańsk", "public holiday", "yes", ""),
    ("2026-04-01", "Wednesday before Easter", "Oslo", "half day", "from 12:00", "Office closes at 12:00"),
    ("2026-04-02", "Maundy Thursday", "Oslo", "public holiday", "yes", ""),
    ("2026-04-03", "Good Friday", "Oslo", "public holiday", "yes", ""),
    ("2026-04-05", "Easter Sunday", "Oslo", "public holiday", "yes", ""),
    ("2026-04-05", "Easter Sunday", "Gdańsk", "public holiday", "yes", ""),
    ("2026-04-06", "Easter Monday", "Oslo", "public holiday", "yes", ""),
    ("2026-04-06", "Easter Monday", "Gdańsk", "public holiday", "yes", ""),
    ("2026-05-01", "Labour Day", "Oslo", "public holiday", "yes", ""),
    ("2026-05-01", "Labour Day", "Gdańsk", "public holiday", "yes", ""),
    ("2026-05-03", "Constitution Day (3 Maja)", "Gdańsk", "public holiday", "yes", "Falls on a Sunday; no substitute day"),
    ("2026-05-14", "Ascension Day", "Oslo", "public holiday", "yes", ""),
    ("2026-05-17", "Constitution Day (Grunnlovsdag)", "Oslo", "public holiday", "yes", "Falls on a Sunday"),
    ("2026-05-24", "Whit Sunday", "Oslo", "public holiday", "yes", ""),
    ("2026-05-24", "Pentecost (Zielone Świątki)", "Gdańsk", "public holiday", "yes", ""),
    ("2026-05-25", "Whit Monday", "Oslo", "public holiday", "yes", ""),
    ("2026-06-04", "Corpus Christi (Boże Ciało)", "Gdańsk", "public holiday", "yes", ""),
    ("2026-06-19", "Halvorsen summer party", "Oslo", "company day", "from 14:00", "Gdańsk team joins by video"),
    ("2026-08-14", "Substitute day off for Assumption Day", "Gdańsk", "company day", "yes", "Assumption Day (15 August) falls on a Saturday"),
    ("2026-08-15", "Assumption Day (Wniebowzięcie NMP)", "Gdańsk", "public holiday", "yes", ""),
    ("2026-11-01", "All Saints' Day (Wszystkich Świętych)", "Gdańsk", "public holiday", "yes", "Falls on a Sunday"),
    ("2026-11-11", "Independence Day (Święto Niepodległości)", "Gdańsk", "public holiday", "yes", ""),
    ("2026-12-24", "Christmas Eve", "Oslo", "company day", "yes", "Company day off in Oslo"),
    ("2026-12-24", "Christmas Eve (Wigilia)", "Gdańsk", "public holiday", "yes", "Public holiday in Poland since 2025"),
    ("2026-12-25", "Christmas Day", "Oslo", "public holiday", "yes", ""),
    ("2026-12-25", "Christmas Day", "Gdańsk", "public holiday", "yes", ""),
    ("2026-12-26", "Boxing Day (Second Day of Christmas)", "Oslo", "public holiday", "yes", ""),
    ("2026-12-26", "Second Day of Christmas", "Gdańsk", "public holiday", "yes", ""),
    ("2026-12-31", "New Year's Eve", "Oslo", "company day", "yes", "Company day off in both offices"),
    ("2026-12-31", "New Year's Eve", "Gdańsk", "company day", "yes", "Company day off in both offices"),
]
HOLIDAYS = [[ds, dt.date.fromisoformat(ds).strftime("%A"), n, o, t, c, note] for ds, n, o, t, c, note in _HOL]

ORG_HEADER = ["employee_id", "name", "title", "department", "location", "manager_id", "extension",
              "email", "start_date"]
_ORG = [
    ("E001", "Ingrid Halvorsen", "Chief Executive Officer and Co-founder", "Executive", "Oslo", "", "2001", "2014-03-01"),
    ("E002", "Henrik Moe", "Chief Financial Officer", "Finance", "Oslo", "E001", "2400", "2019-08-12"),
    ("E003", "Marta Kowalska", "VP Engineering and Head of Gdańsk Office", "Engineering", "Gdańsk", "E001", "6101", "2017-02-01"),
    ("E004", "Alice Nygaard", "Head of People", "People", "Oslo", "E001", "2105", "2018-05-02"),
    ("E005", "Ivar Lunde", "Head of IT and Security", "IT", "Oslo", "E001", "4401", "2016-09-01"),
    ("E006", "Lars Tveit", "VP Operations", "Operations", "Oslo", "E001", "3001", "2015-01-05"),
    ("E007", "Magnus Riise", "VP Sales", "Sales", "Oslo", "E001", "2300", "2020-03-16"),
    ("E008", "Kristoffer Hauge", "Product Director", "Product", "Oslo", "E001", "2500", "2019-01-07"),
    ("E009", "Eline Strand", "Head of Communications", "Communications", "Oslo", "E001", "2150", "2022-04-01"),
    ("E010", "Kristin Dahl", "Legal Counsel and Data Protection Officer", "Legal", "Oslo", "E001", "2140", "2021-10-01"),
    ("E011", "Farid Haddad", "Finance Controller", "Finance", "Oslo", "E002", "2410", "2021-06-14"),
    ("E012", "Nora Bergersen", "Accountant", "Finance", "Oslo", "E011", "2420", "2023-02-01"),
    ("E013", "Tomasz Nowak", "SRE Lead", "Engineering", "Gdańsk", "E003", "6120", "2018-11-05"),
    ("E014", "Piotr Zieliński", "Fleet Platform Team Lead", "Engineering", "Gdańsk", "E003", "6124", "2019-04-01"),
    ("E015", "Anders Solheim", "Hardware Engineering Manager", "Engineering", "Oslo", "E003", "3200", "2016-06-01"),
    ("E016", "Hanne Vik", "Robotics Safety Lead", "Engineering", "Oslo", "E003", "3120", "2020-08-17"),
    ("E017", "Katarzyna Lewandowska", "Senior Software Engineer", "Engineering", "Gdańsk", "E014", "6131", "2021-03-01"),
    ("E018", "Jakub Kamiński", "Robotics Software Engineer", "Engineering", "Gdańsk", "E014", "6133", "2022-09-01"),
    ("E019", "Michał Wójcik", "Site Reliability Engineer", "Engineering", "Gdańsk", "E013", "6122", "2021-01-11"),
    ("E020", "Lene Ask", "Site Reliability Engineer", "Engineering", "Oslo", "E013", "3140", "2023-05-02"),
    ("E021", "Sindre Holm", "Software Engineer", "Engineering", "Oslo", "E014", "3145", "2024-01-08"),
    ("E022", "Maja Kristiansen", "Mechanical Engineer", "Engineering", "Oslo", "E015", "3215", "2022-02-14"),
    ("E023", "Ole Bakken", "Security Engineer", "IT", "Oslo", "E005", "4410", "2020-11-02"),
    ("E024", "Sander Aas", "IT Service Desk Technician", "IT", "Oslo", "E005", "4402", "2023-08-14"),
    ("E025", "Zofia Mazur", "IT Support Technician", "IT", "Gdańsk", "E005", "6050", "2022-06-01"),
    ("E026", "Thea Lie", "People Partner", "People", "Oslo", "E004", "2110", "2022-10-03"),
    ("E027", "Agnieszka Wiśniewska", "HR and Office Coordinator", "People", "Gdańsk", "E004", "6012", "2019-09-02"),
    ("E028", "Guro Pedersen", "Office Manager", "Operations", "Oslo", "E006", "2010", "2017-04-18"),
    ("E029", "Jonas Eide", "Safety Officer", "Operations", "Oslo", "E006", "3310", "2018-01-15"),
    ("E030", "Erik Haugen", "Field Service Lead", "Operations", "Oslo", "E006", "3050", "2016-03-01"),
    ("E031", "Ida Sørensen", "Test Hall Technician", "Operations", "Oslo", "E030", "3060", "2024-04-02"),
    ("E032", "Sofie Berg", "Sales Manager", "Sales", "Oslo", "E007", "2310", "2021-08-09"),
    ("E033", "Johan Dahle", "Account Manager", "Sales", "Oslo", "E007", "2320", "2023-09-04"),
    ("E034", "Ewa Kaczmarek", "Product Manager", "Product", "Gdańsk", "E008", "6140", "2022-11-14"),
]
_TRANSLIT = str.maketrans({"ń": "n", "ł": "l", "ó": "o", "ś": "s", "ø": "o", "å": "a", "æ": "ae",
                           "ż": "z", "ź": "z", "ą": "a", "ę": "e", "ć": "c"})


def _email(name: str) -> str:
    return ".".join(name.lower().translate(_TRANSLIT).split()) + "@halvorsen-robotics.no"


ORG = [[i, n, t, dep, loc, mgr, ext, _email(n), sd] for i, n, t, dep, loc, mgr, ext, sd in _ORG]

ONCALL_HEADER = ["week", "week_start", "primary", "secondary", "escalation_manager", "handover", "notes"]
_ONCALL_PAIRS = [
    ("Michał Wójcik", "Lene Ask"), ("Katarzyna Lewandowska", "Sindre Holm"), ("Lene Ask", "Jakub Kamiński"),
    ("Jakub Kamiński", "Michał Wójcik"), ("Sindre Holm", "Katarzyna Lewandowska"),
]
_ONCALL_NOTES = {
    "2026-01-05": "Christmas freeze ends 5 January; first deploys of the year",
    "2026-03-02": "Gdańsk office move on 2 March; secondary covers from Oslo",
    "2026-03-23": "LogiMAT week; HR-400 demo support from Stuttgart",
    "2026-03-30": "Easter week; public holiday shifts paid at double on-call allowance",
}
ONCALL = []
for i in range(13):
    start = dt.date(2026, 1, 5) + dt.timedelta(weeks=i)
    p, s = _ONCALL_PAIRS[i % len(_ONCALL_PAIRS)]
    mgr = "Tomasz Nowak" if start.month != 2 else "Piotr Zieliński"
    ONCALL.append([f"2026-W{start.isocalendar()[1]:02d}", start.isoformat(), p, s, mgr,
                   "Monday 09:00 CET", _ONCALL_NOTES.get(start.isoformat(), "")])

CSV_DATA = {
    "hr/salary-bands-2025.csv": (SALARY_BANDS_HEADER, SALARY_BANDS),
    "finance/expense-approval-thresholds.csv": (APPROVAL_HEADER, APPROVAL_ROWS),
    "general/holiday-calendar-2026.csv": (HOLIDAY_HEADER, HOLIDAYS),
    "general/org-chart.csv": (ORG_HEADER, ORG),
    "engineering/on-call-rotation-2026-q1.csv": (ONCALL_HEADER, ONCALL),
}

# ---------------------------------------------------------------------------
# Mini-markdown parser
# ---------------------------------------------------------------------------


def parse_blocks(text: str):
    """Return a list of (kind, payload) blocks.

    kinds: h1/h2/h3 (str), p (str), ul/ol (list[str]), table (list[list[str]]), notes (str)
    """
    blocks = []
    para: list[str] = []
    lines = text.splitlines()

    def flush():
        if para:
            blocks.append(("p", " ".join(x.strip() for x in para)))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line.strip():
            flush()
            i += 1
            continue
        m = re.match(r"^(#{1,3}) (.*)$", line)
        if m:
            flush()
            blocks.append((f"h{len(m.group(1))}", m.group(2).strip()))
            i += 1
            continue
        if line.startswith("- Notes: "):
            flush()
            blocks.append(("notes", line[len("- Notes: "):]))
            i += 1
            continue
        if re.match(r"^(- |\d+\. )", line):
            flush()
            kind = "ul" if line.startswith("- ") else "ol"
            items = []
            while i < len(lines) and re.match(r"^(- |\d+\. )", lines[i]) and not lines[i].startswith("- Notes: "):
                items.append(re.sub(r"^(- |\d+\. )", "", lines[i]).strip())
                i += 1
            blocks.append((kind, items))
            continue
        if line.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                    rows.append(cells)
                i += 1
            blocks.append(("table", rows))
            continue
        para.append(line)
        i += 1
    flush()
    return blocks


def plain(s: str) -> str:
    """Strip inline markup (**bold**, `code`)."""
    return s.replace("**", "").replace("`", "")


def inline_html(s: str) -> str:
    out = html.escape(s, quote=False)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", out)
    return out


def inline_runs(s: str):
    """Split into (text, bold, code) runs."""
    runs = []
    for part in re.split(r"(\*\*.+?\*\*|`.+?`)", s):
        if not part:
            continue
        if part.startswith("**"):
            runs.append((part[2:-2], True, False))
        elif part.startswith("`"):
            runs.append((part[1:-1], False, True))
        else:
            runs.append((part, False, False))
    return runs


def read_source(rel: str) -> str:
    return (SRC / rel).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# Helpers for deterministic ZIP-based formats (docx, pptx)
# ---------------------------------------------------------------------------


def normalise_zip(path: Path) -> None:
    with zipfile.ZipFile(path) as zin:
        items = [(info, zin.read(info.filename)) for info in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in items:
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zout.writestr(zi, data)
    path.write_bytes(buf.getvalue())


def set_core_props(cp, title: str, author: str, when: dt.datetime, subject: str = "") -> None:
    naive = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    cp.title = title
    cp.author = author
    cp.last_modified_by = author
    cp.subject = subject
    cp.keywords = "Halvorsen Robotics; internal; sample corpus"
    cp.comments = "Fictional sample document generated by samples/build_samples.py"
    cp.created = naive
    cp.modified = naive
    cp.revision = 1


# ---------------------------------------------------------------------------
# PDF (text layer)
# ---------------------------------------------------------------------------


def render_pdf(out: Path, src_rel: str, title: str, author: str, when: dt.datetime) -> None:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    blocks = parse_blocks(read_source(src_rel))
    doc_title = plain(blocks[0][1])
    m = re.search(r"Document ID: ([A-Z0-9-]+)", read_source(src_rel))
    doc_id = m.group(1) if m else ""

    class PDF(FPDF):
        def header(self):
            self.set_font("DejaVu", "", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 5, f"{COMPANY}  |  {doc_title}  |  {doc_id}", align="L")
            self.ln(4)
            self.set_draw_color(180, 180, 180)
            self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
            self.ln(6)
            self.set_text_color(0, 0, 0)

        def footer(self):
            self.set_y(-15)
            self.set_font("DejaVu", "", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 8, f"Halvorsen Robotics \u2014 Internal \u2014 Page {self.page_no()} of {{nb}}",
                      align="C")
            self.set_text_color(0, 0, 0)

    pdf = PDF(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=22)
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.add_font("DejaVu", "I", str(FONT_DIR / "DejaVuSans-Oblique.ttf"))
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_subject(f"{COMPANY} internal document (fictional sample)")
    pdf.set_creator("Halvorsen Robotics document system")
    pdf.set_producer("fpdf2")
    pdf.set_creation_date(when)
    pdf.alias_nb_pages()
    pdf.add_page()

    for kind, payload in blocks:
        if kind == "h1":
            pdf.set_font("DejaVu", "B", 18)
            pdf.multi_cell(0, 9, plain(payload), new_x="LMARGIN", new_y="NEXT", align="L")
            pdf.ln(3)
        elif kind == "h2":
            if pdf.get_y() > pdf.page_break_trigger - 40:  # keep heading with next block
                pdf.add_page()
            pdf.ln(2)
            pdf.set_font("DejaVu", "B", 13)
            pdf.multi_cell(0, 7, plain(payload), new_x="LMARGIN", new_y="NEXT", align="L")
            pdf.ln(1.5)
        elif kind == "h3":
            if pdf.get_y() > pdf.page_break_trigger - 40:
                pdf.add_page()
            pdf.set_font("DejaVu", "B", 11)
            pdf.multi_cell(0, 6, plain(payload), new_x="LMARGIN", new_y="NEXT", align="L")
            pdf.ln(1)
        elif kind == "p":
            pdf.set_font("DejaVu", "", 10)
            pdf.multi_cell(0, 5.2, plain(payload), new_x="LMARGIN", new_y="NEXT", align="L")
            pdf.ln(2.5)
        elif kind in ("ul", "ol"):
            pdf.set_font("DejaVu", "", 10)
            for n, item in enumerate(payload, 1):
                marker = "\u2022" if kind == "ul" else f"{n}."
                pdf.set_x(pdf.l_margin + 3)
                pdf.cell(6, 5.2, marker)
                pdf.multi_cell(0, 5.2, plain(item), new_x="LMARGIN", new_y="NEXT", align="L")
                pdf.ln(1)
            pdf.ln(1.5)
        elif kind == "table":
            pdf.set_font("DejaVu", "", 9)
            with pdf.table(
                headings_style=FontFace(emphasis="BOLD", fill_color=(225, 230, 238)),
                line_height=5.5,
                text_align="LEFT",
                width=pdf.epw,
            ) as table:
                for r in payload:
                    row = table.row()
                    for c in r:
                        row.cell(plain(c))
            pdf.ln(4)
    pdf.output(str(out))


# ---------------------------------------------------------------------------
# Scanned PDF (image only, no text layer)
# ---------------------------------------------------------------------------
SCAN_DPI = 200
A4_PX = (round(8.2677 * SCAN_DPI), round(11.6929 * SCAN_DPI))


def scanned_lines(src_text: str):
    """Yield (style, text) logical lines for the scanned renderer."""
    for kind, payload in parse_blocks(src_text):
        if kind in ("h1", "h2", "h3"):
            yield kind, plain(payload)
        elif kind == "p":
            yield "p", plain(payload)
        elif kind in ("ul", "ol"):
            for n, item in enumerate(payload, 1):
                yield ("li", plain(item)) if kind == "ul" else ("oli", f"{n}. " + plain(item))
        elif kind == "table":
            for r in payload:
                yield "p", "    ".join(r)


def scanned_plain_text(src_text: str) -> str:
    """The text content that the scanned renderer draws (used by the checker)."""
    return "\n".join(t for _, t in scanned_lines(src_text))


def _wrap(draw, text, font, width):
    words, lines, cur = text.split(), [], ""
    for w in words:
        trial = (cur + " " + w).strip()
        if draw.textlength(trial, font=font) <= width:
            cur = trial
        else:
            lines.append(cur)
            cur = w
    if cur:
        lines.append(cur)
    return lines


def _signature(draw, x, y, seed, scale=1.0):
    rng = random.Random(seed)
    pts = []
    for i in range(120):
        t = i / 119
        px = x + t * 360 * scale
        py = y + math.sin(t * (4 + rng.random() * 2) * math.pi + rng.random()) * (26 + rng.random() * 8) * scale * (1 - 0.5 * t)
        pts.append((px, py))
    draw.line(pts, fill=25, width=4, joint="curve")
    draw.line([(x + 40, y + 30), (x + 330 * scale, y + 18)], fill=25, width=3)


def render_scanned_pdf(out: Path, src_rel: str, title: str, author: str, when: dt.datetime,
                       signatures: bool, mode: str, seed: int) -> int:
    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    W, H = A4_PX
    margin_x, margin_top, margin_bottom = 170, 170, 190
    fonts = {
        "h1": ImageFont.truetype(str(FONT_DIR / "DejaVuSans-Bold.ttf"), 46),
        "h2": ImageFont.truetype(str(FONT_DIR / "DejaVuSans-Bold.ttf"), 35),
        "h3": ImageFont.truetype(str(FONT_DIR / "DejaVuSans-Bold.ttf"), 32),
        "p": ImageFont.truetype(str(FONT_DIR / "DejaVuSans.ttf"), 31),
    }
    rng = random.Random(seed)
    pages = []

    def new_page():
        img = Image.new("L", (W, H), 255)
        pages.append(img)
        return img, ImageDraw.Draw(img)

    img, draw = new_page()
    y = margin_top
    text_w = W - 2 * margin_x
    for style, text in scanned_lines(read_source(src_rel)):
        font = fonts.get(style, fonts["p"])
        indent = 45 if style in ("li", "oli") else 0
        lh = int(font.size * 1.5)
        before = {"h1": 0, "h2": 30, "h3": 18}.get(style, 0)
        is_signatory = signatures and style == "p" and text.endswith(("Chief Financial Officer", "Chief Executive Officer"))
        if is_signatory:
            before += 120  # room for a hand signature above the printed name
        wrapped = _wrap(draw, text, font, text_w - indent)
        need = before + lh * len(wrapped)
        if y + need > H - margin_bottom:
            img, draw = new_page()
            y = margin_top
            before = 120 if is_signatory else 0
        y += before
        if is_signatory:
            _signature(draw, margin_x + 20, y - 55, seed + y)
            draw.line([(margin_x, y - 8), (margin_x + 620, y - 8)], fill=90, width=2)
        for k, line in enumerate(wrapped):
            if k == 0 and style == "li":
                draw.ellipse([margin_x + 8, y + 13, margin_x + 20, y + 25], fill=0)
            draw.text((margin_x + indent, y), line, font=font, fill=0)
            y += lh
        y += {"h1": 28, "h2": 8, "h3": 6}.get(style, 14)

    # "scan" the pages: slight rotation, grey background speckle, then encode
    images = []
    for img in pages:
        img = img.rotate(rng.uniform(-0.35, 0.35), resample=Image.BICUBIC, fillcolor=255, expand=False)
        px = img.load()
        for _ in range(900):
            x, yy = rng.randrange(W), rng.randrange(H)
            px[x, yy] = rng.randrange(120, 200)
        if mode == "1":
            img = img.point(lambda v: 255 if v > 150 else 0).convert("1")
            buf = io.BytesIO()
            img.save(buf, format="PNG", optimize=True)
        else:
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=60, dpi=(SCAN_DPI, SCAN_DPI))
        buf.seek(0)
        images.append(buf)

    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creator("Canon iR-ADV C5840 scanner")
    pdf.set_producer("ScanToPDF 3.2")
    pdf.set_creation_date(when)
    pdf.set_auto_page_break(False)
    for buf in images:
        pdf.add_page()
        pdf.image(buf, x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.output(str(out))
    return len(images)


# ---------------------------------------------------------------------------
# DOCX
# ---------------------------------------------------------------------------


def render_docx(out: Path, src_rel: str, title: str, author: str, when: dt.datetime,
                header_text: str, footer_text: str) -> None:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    styles = doc.styles
    styles["Normal"].font.name = "Calibri"
    styles["Normal"].font.size = Pt(11)
    sec = doc.sections[0]
    sec.header.paragraphs[0].text = header_text
    sec.footer.paragraphs[0].text = footer_text

    def add_runs(par, text):
        for t, bold, code in inline_runs(text):
            r = par.add_run(t)
            r.bold = bold or None
            if code:
                r.font.name = "Consolas"

    for kind, payload in parse_blocks(read_source(src_rel)):
        if kind == "h1":
            doc.add_heading(plain(payload), level=0)  # "Title" style
        elif kind == "h2":
            doc.add_heading(plain(payload), level=1)  # "Heading 1"
        elif kind == "h3":
            doc.add_heading(plain(payload), level=2)  # "Heading 2"
        elif kind == "p":
            add_runs(doc.add_paragraph(), payload)
        elif kind in ("ul", "ol"):
            style = "List Bullet" if kind == "ul" else "List Number"
            for item in payload:
                add_runs(doc.add_paragraph(style=style), item)
        elif kind == "table":
            t = doc.add_table(rows=0, cols=len(payload[0]))
            t.style = "Table Grid"
            for ri, r in enumerate(payload):
                cells = t.add_row().cells
                for ci, c in enumerate(r):
                    cells[ci].text = plain(c)
                    if ri == 0:
                        for run in cells[ci].paragraphs[0].runs:
                            run.bold = True
            doc.add_paragraph()
    set_core_props(doc.core_properties, title, author, when, subject=COMPANY)
    doc.save(str(out))
    normalise_zip(out)


# ---------------------------------------------------------------------------
# PPTX
# ---------------------------------------------------------------------------


def render_pptx(out: Path, src_rel: str, title: str, author: str, when: dt.datetime) -> None:
    from pptx import Presentation
    from pptx.util import Inches, Pt

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    blocks = parse_blocks(read_source(src_rel))
    # title slide: h1 + first paragraph
    s = prs.slides.add_slide(prs.slide_layouts[0])
    s.shapes.title.text = plain(blocks[0][1])
    sub = next((p for k, p in blocks if k == "p"), "")
    s.placeholders[1].text = plain(sub)
    for r in s.placeholders[1].text_frame.paragraphs[0].runs:
        r.font.size = Pt(20)
    for shape in (s.shapes.title, s.placeholders[1]):
        shape.left, shape.width = Inches(0.8), Inches(11.7)

    slide = None
    for kind, payload in blocks[1:]:
        if kind == "h2":
            slide = prs.slides.add_slide(prs.slide_layouts[1])
            slide.shapes.title.text = plain(payload)
            body = slide.placeholders[1]
            body.left, body.top, body.width, body.height = Inches(0.8), Inches(1.7), Inches(11.7), Inches(5.3)
            slide.shapes.title.left, slide.shapes.title.width = Inches(0.8), Inches(11.7)
            tf = body.text_frame
            first = True
        elif slide is not None and kind in ("ul", "ol", "p"):
            items = payload if kind != "p" else [payload]
            for item in items:
                para = tf.paragraphs[0] if first else tf.add_paragraph()
                first = False
                para.text = plain(item)
                para.level = 0
                for r in para.runs:
                    r.font.size = Pt(22)
        elif slide is not None and kind == "notes":
            slide.notes_slide.notes_text_frame.text = plain(payload)
    set_core_props(prs.core_properties, title, author, when, subject=COMPANY)
    prs.save(str(out))
    normalise_zip(out)


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------
HTML_CSS = """body{font-family:Arial,Helvetica,sans-serif;max-width:920px;margin:0 auto;padding:0 24px;color:#1d232b;line-height:1.5}
header.site{border-bottom:3px solid #0b5f8a;padding:12px 0;margin-bottom:24px;display:flex;justify-content:space-between}
header.site a{color:#0b5f8a;text-decoration:none;margin-left:16px}
table{border-collapse:collapse;width:100%;margin:12px 0 20px}
th,td{border:1px solid #c7ced6;padding:6px 10px;text-align:left;vertical-align:top}
th{background:#e8eef4}
footer.site{border-top:1px solid #c7ced6;margin-top:40px;padding:12px 0;font-size:0.85em;color:#5a6672}
.meta{color:#5a6672;font-size:0.9em}"""


def blocks_to_html(blocks, skip_first_h1=False) -> str:
    out = []
    for kind, payload in blocks:
        if kind in ("h1", "h2", "h3"):
            if kind == "h1" and skip_first_h1:
                skip_first_h1 = False
                continue
            out.append(f"<{kind}>{inline_html(payload)}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{inline_html(payload)}</p>")
        elif kind in ("ul", "ol"):
            out.append(f"<{kind}>")
            out.extend(f"  <li>{inline_html(i)}</li>" for i in payload)
            out.append(f"</{kind}>")
        elif kind == "table":
            out.append("<table>")
            out.append("  <thead><tr>" + "".join(f"<th>{inline_html(c)}</th>" for c in payload[0]) + "</tr></thead>")
            out.append("  <tbody>")
            for r in payload[1:]:
                out.append("    <tr>" + "".join(f"<td>{inline_html(c)}</td>" for c in r) + "</tr>")
            out.append("  </tbody>")
            out.append("</table>")
    return "\n".join(out)


def render_html(out: Path, src_rel: str, title: str, author: str, when: dt.datetime, classification: str) -> None:
    blocks = parse_blocks(read_source(src_rel))
    body = blocks_to_html(blocks)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="author" content="{html.escape(author)}">
<meta name="date" content="{when.date().isoformat()}">
<meta name="classification" content="{classification}">
<title>{html.escape(title)} | Halvorsen Robotics Intranet</title>
<style>
{HTML_CSS}
</style>
</head>
<body>
<header class="site">
  <strong>Halvorsen Robotics Intranet</strong>
  <nav><a href="/">Home</a><a href="/people">People</a><a href="/it">IT</a><a href="/offices">Offices</a></nav>
</header>
<main>
<article>
{body}
</article>
</main>
<footer class="site">
  <p>Page owner: {html.escape(author)}. Classification: {classification}. &copy; 2025 Halvorsen Robotics AS. Fictional sample content.</p>
</footer>
</body>
</html>
"""
    out.write_text(page, encoding="utf-8")


# ---------------------------------------------------------------------------
# EML
# ---------------------------------------------------------------------------


def render_eml_plain(out: Path, src_rel: str, when: dt.datetime) -> None:
    msg = EmailMessage()
    msg["From"] = "Ivar Lunde <ivar.lunde@halvorsen-robotics.no>"
    msg["To"] = "All staff <all-staff@halvorsen-robotics.no>"
    msg["Reply-To"] = "IT Service Desk <servicedesk@halvorsen-robotics.no>"
    msg["Subject"] = "Action required: mandatory MFA from 1 December 2025"
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = "<20251103081200.4417.mfa-rollout@halvorsen-robotics.no>"
    msg["X-Classification"] = "Internal"
    msg.set_content(read_source(src_rel), cte="quoted-printable")
    out.write_bytes(msg.as_bytes(policy=email.policy.default))


def render_eml_multipart(out: Path, src_rel: str, when: dt.datetime) -> None:
    src = read_source(src_rel)
    blocks = parse_blocks(src)
    text_lines = []
    for kind, payload in blocks:
        if kind in ("h1", "h2", "h3"):
            text_lines.append(plain(payload).upper())
        elif kind == "p":
            text_lines.append(plain(payload))
        elif kind in ("ul", "ol"):
            text_lines.append("\n".join("- " + plain(i) for i in payload))
    text = "\n\n".join(text_lines) + "\n"
    html_body = (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>All-hands recap</title></head>\n"
        "<body style=\"font-family:Arial,sans-serif;font-size:14px;color:#222\">\n"
        + blocks_to_html(blocks)
        + "\n<hr>\n<p style=\"color:#777;font-size:12px\">Halvorsen Robotics AS, Nydalsveien 42B, 0484 Oslo. "
          "Internal e-mail, do not forward outside the company.</p>\n</body></html>\n"
    )
    msg = EmailMessage()
    msg["From"] = "Ingrid Halvorsen <ingrid.halvorsen@halvorsen-robotics.no>"
    msg["To"] = "All staff <all-staff@halvorsen-robotics.no>"
    msg["Subject"] = "All-hands recap: Gdańsk move, HR-400 launch and Christmas party"
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = "<20251114160500.9921.allhands@halvorsen-robotics.no>"
    msg["X-Classification"] = "Internal"
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html_body, subtype="html", cte="quoted-printable")
    msg.set_boundary("===============halvorsen-allhands-20251114==")
    out.write_bytes(msg.as_bytes(policy=email.policy.default))


# ---------------------------------------------------------------------------
# CSV / TXT / MD
# ---------------------------------------------------------------------------


def render_csv(out: Path, header, rows) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    out.write_text(buf.getvalue(), encoding="utf-8")


def copy_text(out: Path, src_rel: str) -> None:
    out.write_text(read_source(src_rel), encoding="utf-8")


# ---------------------------------------------------------------------------
# Questions
# ---------------------------------------------------------------------------
QUESTIONS_FILE = SRC / "questions.json"


def build_questions(manifest_docs):
    by_path = {m["path"]: m for m in manifest_docs}
    qs = json.loads(QUESTIONS_FILE.read_text(encoding="utf-8"))
    out = []
    for n, q in enumerate(qs, 1):
        doc = by_path[q["doc"]]
        rec = {
            "id": f"q{n:02d}",
            "question": q["question"],
            "answer": q["answer"],
            "doc": q["doc"],
            "passage": q["passage"],
            "groups_allowed": doc["groups"],
            "public": doc["public"],
            "type": doc["type"],
        }
        if q.get("table"):
            rec["table"] = True
        if q.get("note"):
            rec["note"] = q["note"]
        out.append(rec)
    return out


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def main() -> None:
    manifest_docs = []
    for path, typ, title, groups, public, owner, src, when in DOCS:
        out = HERE / path
        out.parent.mkdir(parents=True, exist_ok=True)
        author = USER_FULL[owner]
        entry = {"path": path, "title": title, "groups": groups, "public": public, "owner": owner, "type": typ}
        if typ == "pdf":
            render_pdf(out, src, title, author, when)
        elif typ == "scanned-pdf":
            is_addendum = "addendum" in path
            entry["pages"] = render_scanned_pdf(out, src, title, author, when, signatures=is_addendum,
                                                mode="L" if is_addendum else "1", seed=len(path))
            entry["source"] = f"_source/{src}"
        elif typ == "docx":
            if path.startswith("board/"):
                hdr, ftr = "STRICTLY CONFIDENTIAL \u2014 Board of Directors only", "Project Fjord \u2014 do not forward"
            else:
                hdr, ftr = f"{COMPANY} \u2014 Internal", title
            render_docx(out, src, title, author, when, hdr, ftr)
        elif typ == "pptx":
            render_pptx(out, src, title, author, when)
        elif typ == "html":
            cls = "Public" if public else ("Restricted" if "everyone" not in groups else "Internal")
            render_html(out, src, title, author, when, cls)
        elif typ == "eml":
            if "all-hands" in path:
                render_eml_multipart(out, src, when)
            else:
                render_eml_plain(out, src, when)
        elif typ == "csv":
            header, rows = CSV_DATA[path]
            render_csv(out, header, rows)
        elif typ in ("txt", "md"):
            copy_text(out, src)
        else:
            raise ValueError(typ)
        manifest_docs.append(entry)

    manifest = {
        "company": COMPANY,
        "description": "Fictional sample corpus for the inhouse document QA app. All people, "
                       "companies, numbers and events are invented.",
        "groups": GROUPS,
        "users": USERS,
        "documents": manifest_docs,
    }
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    questions = build_questions(manifest_docs)
    with open(HERE / "questions.jsonl", "w", encoding="utf-8") as f:
        for q in questions:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    print(f"wrote {len(manifest_docs)} documents and {len(questions)} questions")


if __name__ == "__main__":
    main()
