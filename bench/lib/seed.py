"""A large, realistic help desk in SQLite, fast: the data set the benchmarks share.

``ensure_seeded(var_dir, tickets=N, seed=S)`` gives a database under ``var_dir`` holding
N tickets, reusing the one from an earlier run when its count, seed and generator version
match (``reseed=True`` forces a new one). The schema is exactly what ``caredesk migrate``
makes; the rows go in through raw ``executemany`` in one transaction:

* a few thousand organizations of every kind (a few large, many small), ~N/10
  requesters (most in an organization; a few write a lot), 40 agents and managers, and
  the agent the benchmarks sign in as (``AGENT_EMAIL`` / ``AGENT_PASSWORD``);
* tickets whose status follows their age, as in a desk that has run for five years:
  almost all closed, 2.5 % solved, and a few thousand each new, open, pending and on-hold,
  mostly recent with some forgotten old ones; categories, channels and priorities in
  skewed proportions; the guided answers for the form channels;
* 1-3 messages a ticket (the requester's description, the agent's reply, then a
  requester's answer or an internal note), text drawn from a Zipf-ranked vocabulary so
  that words have realistic document frequencies (a few in nearly every ticket, most
  rare);
* the event trail the lifecycle rules write (created, claimed, status, replied/noted),
  and one search document per ticket as ``search.index_new_ticket`` and
  ``search.index_message`` build it.

Speed: the rows are made chunk by chunk, each chunk from its own seeded generator, and
inserted with ``executemany`` (generating in worker processes was tried: pickling the
rows back cost more than it saved on two cores). Secondary indexes and the full-text
triggers are dropped while the rows go in and recreated afterwards from their own stored
SQL, so ``sqlite_master`` ends as migrate left it; the FTS5 index is then built once with
``'rebuild'``. Journal off and ``synchronous=OFF`` while seeding, WAL again at the end.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bench.lib import common

# Bump when the generated data changes shape: a cached database of another version is
# seeded again.
GENERATOR_VERSION = 1

AGENT_EMAIL = "bench-agent@caredesk.test"
AGENT_PASSWORD = "bench-agent-password"  # a throwaway database on the loopback only
DB_NAME = "caredesk.sqlite3"
MARKER = "seed.json"

# The newest ticket is this old (UTC, naive as Django stores it in SQLite): fixed, so a
# seed gives the same rows on every run.
END = datetime(2026, 11, 1)
SPAN = timedelta(days=5 * 365)

# Share of all tickets in each active status (the rest is solved or closed).
ACTIVE_SHARE = {"new": 0.003, "open": 0.006, "pending": 0.004, "on_hold": 0.002}
SOLVED_SHARE = 0.025
# Active tickets: most are among the newest RECENT_WINDOW of tickets, STRAGGLERS anywhere.
RECENT_WINDOW = 0.02
STRAGGLERS = 0.15

CATEGORIES = (("question", 45), ("bug", 25), ("feedback", 15), ("uncategorized", 15))
CHANNELS = (
    ("email", 40),
    ("portal", 20),
    ("mobile", 15),
    ("widget", 12),
    ("api", 8),
    ("agent", 5),
)
PRIORITIES = (("normal", 65), ("high", 20), ("low", 10), ("urgent", 5))
ORG_KINDS = (("agency", 40), ("church", 30), ("community_champion", 18), ("network", 12))
FORM_CHANNELS = frozenset({"portal", "widget", "mobile"})
N_AGENTS, N_MANAGERS = 36, 4

# ---------------------------------------------------------------- vocabulary


def _words(text: str) -> list[str]:
    return text.split()


FILLER = _words(
    """the i to a and it is my we in of for on this that not can but with have be
when our you was do from at are there after please thanks so as if an me they get all
what just no now will has or any would been one how out up again still your am
"""
)
DOMAIN = _words(
    """account login password reset email volunteer donation report export map event
signup calendar invoice payment receipt upload photo profile notification sync app
android iphone browser chrome safari firefox error crash slow blank page button screen
form field address postcode location pin food bank shelter housing church agency network
champion team member role permission admin dashboard csv pdf spreadsheet schedule shift
reminder sms text phone number language translation spanish french german portuguese
update version install download link website widget timeout loading spinner white
duplicate missing wrong deleted lost changed access locked blocked verify verification
code token two factor security privacy data delete gdpr consent newsletter unsubscribe
mailing list group family household client referral intake case note attachment
document certificate badge training course video audio microphone camera zoom meeting
recurring weekly monthly daily yesterday today tomorrow morning evening weekend holiday
christmas easter summer winter budget grant funding donor gift aid tax statement annual
quarterly import template column header date time zone format currency pound dollar euro
search filter sort results empty list table row print printer label barcode scanner
warehouse stock inventory delivery driver van route collection pickup dropoff parcel
box crate fridge freezer allergy halal vegan gluten dietary parcels vouchers voucher
referrer partner organisation organization branch region city county council charity
trustee director coordinator manager supervisor staff worker rota roster hours
timesheet expenses mileage reimbursement approval approve reject pending waiting urgent
asap broken bug feature request suggestion improvement dark mode font size accessibility
screenreader contrast keyboard mobile tablet desktop laptop windows mac linux offline
online wifi connection network server outage maintenance status incident degraded
"""
)
SYLLABLES = _words(
    """ka ri to me lo sa vin dar el mo tu ne bra cor fen gal hol ish jun kel
lum nor pol quin ros sel tam ul ver wyn xa yor zel an bo ce di fu ga he ji ko lu ma ni
op pe qu ra si ta un vo wa xe yu zo"""
)
FIRST_NAMES = _words(
    """Ada Abe Mia Eli Rita Ravi Lena Cam Noah Olivia Liam Emma Aisha Omar Zara
Yusuf Priya Arjun Mei Chen Hana Kenji Sofia Mateo Lucia Diego Anna Jan Eva Piotr Ola Kofi
Ama Tunde Ngozi Fatima Ali Sara David Ruth John Mary Peter Grace Paul Joy Mark Faith Luke
Hope James Rose"""
)
LAST_NAMES = _words(
    """Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Khan Singh
Ali Ahmed Chen Wang Li Kim Nguyen Garcia Martinez Lopez Rossi Mueller Schmidt Novak
Kowalski Okafor Mensah Adeyemi Mwangi Hassan Ibrahim Cohen Levi Murphy Kelly Walsh Byrne
Evans Thomas Roberts Hughes Lewis Morgan Cooper Ward Hill Green Baker"""
)
SUBJECT_TEMPLATES = (
    "Cannot {v} {o}",
    "{o} not working",
    "{o} shows {a} {o2}",
    "How do I {v} {o}?",
    "Problem with {o} on {d}",
    "{o} is {a}",
    "Please add {o} to {o2}",
    "Question about {o}",
    "{o} keeps failing after {o2}",
    "Error when I {v} {o}",
)
VERBS = _words(
    """add remove export import change find reset update delete print download
upload open share approve book cancel sync merge"""
)
ADJECTIVES = _words(
    """wrong blank slow missing duplicated broken locked empty old invisible
stuck"""
)
DEVICES = _words("android iphone chrome safari firefox windows mac tablet desktop")
OPENINGS = ("I was trying to", "I wanted to", "We need to", "Trying to")


class TextMaker:
    """Sentences drawn word by word from a Zipf-ranked vocabulary: filler words first (in
    nearly every text), then the domain words, then a long tail of made-up names and
    terms. A message is a few sentences from a large pool: drawing every word of two
    million messages one at a time would dominate the seeding time."""

    def __init__(self, rng: random.Random, *, pool: int = 120_000, exponent: float = 1.05):
        tail: set[str] = set()
        while len(tail) < 30_000:
            tail.add("".join(rng.choices(SYLLABLES, k=rng.choice((2, 3, 3, 4)))))
        domain = list(dict.fromkeys(DOMAIN))
        rng.shuffle(domain)
        words = [*FILLER, *domain, *sorted(tail - set(FILLER) - set(domain))]
        cum = list(itertools.accumulate(1.0 / r**exponent for r in range(1, len(words) + 1)))

        def draw(low: int, high: int) -> str:
            return " ".join(rng.choices(words, cum_weights=cum, k=rng.randint(low, high)))

        self.sentences = []
        for _ in range(pool):
            sentence = draw(5, 16)
            self.sentences.append(sentence[0].upper() + sentence[1:] + ".")
        self.phrases = [draw(3, 9) for _ in range(20_000)]
        # Subjects name things: their objects come from the domain words and the head of
        # the tail.
        things = words[len(FILLER) : len(FILLER) + len(domain) + 2000]
        self.subjects = []
        for _ in range(20_000):
            text = rng.choice(SUBJECT_TEMPLATES).format(
                v=rng.choice(VERBS),
                o=rng.choice(things),
                o2=rng.choice(things),
                a=rng.choice(ADJECTIVES),
                d=rng.choice(DEVICES),
            )
            self.subjects.append(text[0].upper() + text[1:])


def password_hash(password: str, *, salt: str = "benchsalt0123456", iterations=1_200_000):
    """Django's PBKDF2-SHA256 format (the default hasher), made without Django."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


# ---------------------------------------------------------------- the cache


@dataclass
class SeedInfo:
    version: int
    tickets: int
    seed: int
    seconds: float
    agent_email: str
    organizations: int
    requesters: int
    agents: int
    messages: int
    events: int
    statuses: dict[str, int]


def migrate(var_dir: Path) -> None:
    """``caredesk migrate`` on the bench database (also brings a cached one up to date)."""
    subprocess.run(
        [common.caredesk_bin(), "migrate", "--noinput", "--skip-checks", "-v", "0"],
        env=common.server_env(var_dir),
        check=True,
        cwd=common.ROOT,
    )


def ensure_seeded(var_dir: Path, *, tickets: int, seed: int = 1, reseed: bool = False) -> SeedInfo:
    var_dir.mkdir(parents=True, exist_ok=True)
    db = var_dir / DB_NAME
    try:
        marker = json.loads((var_dir / MARKER).read_text())
    except (OSError, ValueError):
        marker = {}
    wanted = {"version": GENERATOR_VERSION, "tickets": tickets, "seed": seed}
    if not reseed and db.exists() and {k: marker.get(k) for k in wanted} == wanted:
        print(
            f"seed: reusing {db} ({tickets:,} tickets, seed {seed}, seeded in "
            f"{marker['seconds']:.0f} s); --reseed to build it again"
        )
        migrate(var_dir)  # migrations added since then apply to the cached data
        return SeedInfo(**marker)
    for name in (MARKER, DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"):
        (var_dir / name).unlink(missing_ok=True)
    started = time.perf_counter()
    print(f"seed: {tickets:,} tickets (seed {seed}) into a new database at {db}")
    migrate(var_dir)
    info = Seeder(db, tickets=tickets, seed=seed, defaults=model_defaults(var_dir)).run()
    info.seconds = round(time.perf_counter() - started, 1)
    (var_dir / MARKER).write_text(json.dumps(asdict(info), indent=2) + "\n")
    print(f"seed: done in {info.seconds:.0f} s")
    return info


# ---------------------------------------------------------------- the seeder

# Tables whose secondary indexes are dropped while seeding and rebuilt afterwards.
BULK_TABLES = (
    "accounts_organization",
    "accounts_user",
    "tickets_ticket",
    "tickets_message",
    "tickets_event",
    "tickets_searchdocument",
)
CHUNK = 10_000
# Ids leave room for the most rows one ticket can have (no id is ever reused).
MESSAGES_PER_TICKET = 3
EVENTS_PER_TICKET = 8

# The columns the generator fills, per table; any other column gets its model default.
TICKET_COLUMNS = (
    "id", "subject", "channel", "category", "priority", "status", "trying_to_do",
    "expected", "actual", "references", "created_at", "updated_at", "claimed_at",
    "first_response_at", "solved_at", "closed_at", "assignee_id", "organization_id",
    "requester_id",
)  # fmt: skip
MESSAGE_COLUMNS = (
    "id", "kind", "internal", "body", "channel", "message_id", "created_at", "author_id",
    "ticket_id", "quoted",
)  # fmt: skip
EVENT_COLUMNS = (
    "id",
    "kind",
    "from_value",
    "to_value",
    "data",
    "created_at",
    "actor_id",
    "ticket_id",
)
DOCUMENT_COLUMNS = ("ticket_id", "document")
ORGANIZATION_COLUMNS = ("id", "name", "kind", "shared_tickets", "created_at")
USER_COLUMNS = ("id", "password", "email", "name", "role", "date_joined", "organization_id")


def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def insert_sql(table: str, columns: tuple[str, ...], defaults: dict[str, dict]) -> str:
    """``INSERT`` for ``columns`` as parameters plus every other column's model default as
    a literal: a field added later (with a default, as a migration needs one) does not
    break the seeder."""
    rest = {c: v for c, v in defaults[table].items() if c not in columns}
    names = ", ".join(f'"{c}"' for c in (*columns, *rest))
    values = ", ".join(["?"] * len(columns) + [_literal(v) for v in rest.values()])
    return f'INSERT INTO "{table}" ({names}) VALUES ({values})'


def model_defaults(var_dir: Path) -> dict[str, dict]:
    """{db table: {column: default as stored}} for every concrete field, from the models.

    Runs in a child process: Django is set up there, not in the benchmark itself."""
    code = (
        "import json, django; django.setup()\n"
        "from django.apps import apps\n"
        "from django.db import connection\n"
        "out = {}\n"
        "for m in apps.get_models():\n"
        "    cols = out.setdefault(m._meta.db_table, {})\n"
        "    for f in m._meta.concrete_fields:\n"
        "        if f.has_default() or f.null or f.blank:\n"
        "            v = f.get_db_prep_save(f.get_default(), connection)\n"
        "            cols[f.column] = getattr(v, 'adapted', v)\n"
        "print(json.dumps(out, default=str))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=common.server_env(var_dir),
        check=True,
        cwd=common.ROOT,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


@dataclass
class World:
    """What every chunk needs, made once."""

    n: int
    seed: int
    text: TextMaker
    statuses: bytes  # one letter per ticket, see STATUS_CODES
    requesters: list[tuple[int, str, str, int | None]]
    agents: list[tuple[int, str]]


STATUS_CODES = {
    b"n"[0]: "new",
    b"o"[0]: "open",
    b"p"[0]: "pending",
    b"h"[0]: "on_hold",
    b"s"[0]: "solved",
    b"c"[0]: "closed",
}


class Seeder:
    def __init__(self, db: Path, *, tickets: int, seed: int, defaults: dict[str, dict]):
        self.db = db
        self.defaults = defaults
        self.n = tickets
        self.seed = seed
        self.rng = random.Random(seed)

    def log(self, what: str) -> None:
        print(f"seed: {time.perf_counter() - self.t0:6.1f} s  {what}", flush=True)

    def run(self) -> SeedInfo:
        self.t0 = time.perf_counter()
        c = sqlite3.connect(self.db, isolation_level=None)
        c.execute("PRAGMA journal_mode=OFF")
        c.execute("PRAGMA synchronous=OFF")
        c.execute("PRAGMA cache_size=-1000000")  # 1 GB: the index builds sort in memory
        c.execute("PRAGMA temp_store=MEMORY")
        marks = ",".join("?" * len(BULK_TABLES))
        schema = c.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND ("
            f"(type = 'index' AND tbl_name IN ({marks}))"
            " OR (type = 'trigger' AND tbl_name = 'tickets_searchdocument'))",
            BULK_TABLES,
        ).fetchall()
        c.execute("BEGIN")
        for kind, name, _ in schema:
            c.execute(f'DROP {kind.upper()} "{name}"')

        text = TextMaker(self.rng)
        requesters, agents, n_orgs = self.people(c)
        statuses = self.statuses()
        self.log(
            f"{n_orgs:,} organizations, {len(requesters):,} requesters, {len(agents)} "
            "agents and managers, vocabulary"
        )
        world = World(self.n, self.seed, text, statuses, requesters, agents)
        counts = {"messages": 0, "events": 0}
        defaults = self.defaults
        t_sql = insert_sql("tickets_ticket", TICKET_COLUMNS, defaults)
        m_sql = insert_sql("tickets_message", MESSAGE_COLUMNS, defaults)
        e_sql = insert_sql("tickets_event", EVENT_COLUMNS, defaults)
        d_sql = insert_sql("tickets_searchdocument", DOCUMENT_COLUMNS, defaults)
        for k in range((self.n + CHUNK - 1) // CHUNK):
            tickets, messages, events, documents = make_chunk(world, k)
            c.executemany(t_sql, tickets)
            c.executemany(m_sql, messages)
            c.executemany(e_sql, events)
            c.executemany(d_sql, documents)
            counts["messages"] += len(messages)
            counts["events"] += len(events)
            if (k + 1) % 25 == 0:
                self.log(f"{min((k + 1) * CHUNK, self.n):,} tickets")
        self.log(
            f"{self.n:,} tickets, {counts['messages']:,} messages, "
            f"{counts['events']:,} events inserted"
        )
        for kind, _, sql in schema:
            if kind == "index":
                c.execute(sql)
        self.log(f"{sum(k == 'index' for k, _, _ in schema)} indexes rebuilt")
        c.execute("INSERT INTO tickets_fts(tickets_fts) VALUES('rebuild')")
        self.log("full-text index built")
        for kind, _, sql in schema:
            if kind == "trigger":
                c.execute(sql)
        c.execute("COMMIT")
        c.execute("PRAGMA journal_mode=WAL")
        c.close()
        by_status: dict[str, int] = {}
        for code in statuses:
            by_status[STATUS_CODES[code]] = by_status.get(STATUS_CODES[code], 0) + 1
        return SeedInfo(
            version=GENERATOR_VERSION,
            tickets=self.n,
            seed=self.seed,
            seconds=0.0,
            agent_email=AGENT_EMAIL,
            organizations=n_orgs,
            requesters=len(requesters),
            agents=len(agents),
            messages=counts["messages"],
            events=counts["events"],
            statuses=dict(sorted(by_status.items(), key=lambda kv: -kv[1])),
        )

    def people(self, c: sqlite3.Connection):
        rng = self.rng
        n_orgs = max(20, self.n // 333)
        n_requesters = max(200, self.n // 10)
        start = str(END - SPAN - timedelta(days=30))
        kinds, kind_weights = zip(*ORG_KINDS, strict=True)
        orgs = []
        for i in range(1, n_orgs + 1):
            kind = rng.choices(kinds, kind_weights)[0]
            name = f"{rng.choice(LAST_NAMES)} {kind.replace('_', ' ').title()} {i}"
            orgs.append((i, name, kind, int(rng.random() < 0.3), start))
        c.executemany(
            insert_sql("accounts_organization", ORGANIZATION_COLUMNS, self.defaults), orgs
        )
        users = []
        unusable = "!" + "x" * 40  # what Django stores for people who only write email
        agents = []
        for uid in range(1, N_AGENTS + N_MANAGERS + 1):
            role = "agent" if uid <= N_AGENTS else "manager"
            if uid == 1:  # the one the benchmarks sign in as
                email, name, pw = AGENT_EMAIL, "Bench Agent", password_hash(AGENT_PASSWORD)
            else:
                email = f"{role}{uid}@support.caredesk.test"
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                pw = unusable
            users.append((uid, pw, email, name, role, start, None))
            agents.append((uid, email))
        # Organizations differ in size: a few large networks, many small groups.
        org_ids = [o[0] for o in orgs]
        rng.shuffle(org_ids)
        org_cum = list(itertools.accumulate(1.0 / r**0.9 for r in range(1, n_orgs + 1)))
        requesters = []
        for uid in range(len(users) + 1, len(users) + n_requesters + 1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            org = rng.choices(org_ids, cum_weights=org_cum)[0] if rng.random() < 0.85 else None
            email = f"{first.lower()}.{last.lower()}{uid}@example.org"
            users.append((uid, unusable, email, f"{first} {last}", "requester", start, org))
            requesters.append((uid, email, f"{first} {last}", org))
        c.executemany(insert_sql("accounts_user", USER_COLUMNS, self.defaults), users)
        return requesters, agents, n_orgs

    def statuses(self) -> bytes:
        """One status code per ticket: the active ones mostly recent (some forgotten old
        ones), the solved ones among the newest few percent, all the rest closed."""
        rng, n = self.rng, self.n
        status = bytearray(b"c" * n)

        def place(code: bytes, count: int, window_from: int, stragglers: float) -> None:
            # A small data set still needs room in the window for every placed ticket.
            window_from = max(0, min(window_from, n - 8 * count))
            placed = 0
            while placed < count:
                i = rng.randrange(n) if rng.random() < stragglers else rng.randrange(window_from, n)
                if status[i] == b"c"[0]:
                    status[i] = code[0]
                    placed += 1

        recent = int(n * (1 - RECENT_WINDOW))
        for code, name in ((b"n", "new"), (b"o", "open"), (b"p", "pending"), (b"h", "on_hold")):
            place(code, max(30, int(n * ACTIVE_SHARE[name])), recent, STRAGGLERS)
        place(b"s", max(50, int(n * SOLVED_SHARE)), int(n * (1 - 4 * SOLVED_SHARE)), 0)
        return bytes(status)


def make_chunk(w: World, k: int):
    """The rows of tickets ``k * CHUNK + 1`` ... : a pure function of (seed, k)."""
    rng = random.Random(f"{w.seed}:{k}")
    rand, choices, randint, getrandbits = rng.random, rng.choices, rng.randint, rng.getrandbits
    cats, cat_w = zip(*CATEGORIES, strict=True)
    chans, chan_w = zip(*CHANNELS, strict=True)
    prios, prio_w = zip(*PRIORITIES, strict=True)
    cat_cum = list(itertools.accumulate(cat_w))
    chan_cum = list(itertools.accumulate(chan_w))
    prio_cum = list(itertools.accumulate(prio_w))
    agents = w.agents
    # Some agents take more tickets than others.
    agent_cum = list(itertools.accumulate(1.0 / r**0.5 for r in range(1, len(agents) + 1)))
    requesters, n_req = w.requesters, len(w.requesters)
    sentences, n_sent = w.text.sentences, len(w.text.sentences)
    subjects, phrases = w.text.subjects, w.text.phrases
    n_subj, n_phr = len(subjects), len(phrases)
    start, step = END - SPAN, SPAN / w.n
    minute = timedelta(minutes=1)

    def body(low: int, high: int) -> str:
        return " ".join([sentences[int(n_sent * rand())] for _ in range(randint(low, high))])

    T, M, E, D = [], [], [], []
    for i in range(k * CHUNK, min((k + 1) * CHUNK, w.n)):
        tid = i + 1
        status = STATUS_CODES[w.statuses[i]]
        created = (
            start + step * i + timedelta(seconds=50 * rand(), microseconds=randint(1, 999_999))
        )
        channel = choices(chans, cum_weights=chan_cum)[0]
        if status == "new" and rand() < 0.6:
            category = "uncategorized"  # not triaged yet
        else:
            category = choices(cats, cum_weights=cat_cum)[0]
        priority = choices(prios, cum_weights=prio_cum)[0]
        # index = R * u * v favours the first requesters: a few write a lot.
        req_id, req_email, req_name, org = requesters[int(n_req * rand() * rand())]
        subject = subjects[int(n_subj * rand())]
        if channel in FORM_CHANNELS:
            trying = f"{OPENINGS[i % 4]} {phrases[int(n_phr * rand())]}"
            expected = phrases[int(n_phr * rand())]
            actual = phrases[int(n_phr * rand())]
        else:
            trying = expected = actual = ""
        refs = f"Request ID {getrandbits(32):08x}-{getrandbits(16):04x}" if rand() < 0.3 else ""

        # The conversation, and the events the lifecycle rules would have written.
        n_msgs = 1 + (rand() < 0.7) + (rand() < 0.43)
        mid, eid = i * MESSAGES_PER_TICKET, i * EVENTS_PER_TICKET
        t = created
        ts = str(t)
        mid += 1
        first = body(2, 7)
        bodies = [first]
        email_id = f"<{tid}.{getrandbits(48):x}@mail.example.org>" if channel == "email" else ""
        M.append((mid, "reply", 0, first, channel, email_id, ts, req_id, tid, ""))
        eid += 1
        E.append((eid, "created", "", "new", f'{{"channel": "{channel}"}}', ts, req_id, tid))
        assignee = claimed = responded = solved = closed = None
        if status == "new":
            # Unclaimed: the requester may have written again; nobody has answered.
            for _ in range(n_msgs - 1):
                t += minute * randint(5, 2000)
                ts = str(t)
                mid += 1
                b = body(1, 4)
                bodies.append(b)
                M.append((mid, "reply", 0, b, channel, "", ts, req_id, tid, ""))
                eid += 1
                E.append((eid, "replied", "", "", f'{{"message": {mid}}}', ts, req_id, tid))
        else:
            assignee, agent_email = choices(agents, cum_weights=agent_cum)[0]
            t += minute * randint(2, 600)
            claimed = ts = str(t)
            eid += 1
            E.append((eid, "claimed", "", agent_email, "{}", ts, assignee, tid))
            eid += 1
            E.append((eid, "status", "new", "open", "{}", ts, assignee, tid))
            for n in range(1, n_msgs):
                t += minute * randint(1, 1500)
                ts = str(t)
                mid += 1
                if n == 1:  # the agent answers
                    b = body(1, 5)
                    M.append((mid, "reply", 0, b, "agent", "", ts, assignee, tid, ""))
                    responded = ts
                    kind, actor = "replied", assignee
                elif rand() < 0.25:  # an internal note
                    b = body(1, 3)
                    M.append((mid, "note", 1, b, "agent", "", ts, assignee, tid, ""))
                    kind, actor = "noted", assignee
                else:  # the requester writes back
                    b = body(1, 4)
                    quoted = (
                        f"On {str(t)[:10]} you wrote:\n> {bodies[-1][:200]}" if email_id else ""
                    )
                    M.append((mid, "reply", 0, b, channel, "", ts, req_id, tid, quoted))
                    kind, actor = "replied", req_id
                bodies.append(b)
                eid += 1
                E.append((eid, kind, "", "", f'{{"message": {mid}}}', ts, actor, tid))
            if status != "open":
                t += minute * randint(1, 3000)
                ts = str(t)
                to = "solved" if status == "closed" else status
                eid += 1
                E.append((eid, "status", "open", to, "{}", ts, assignee, tid))
                if to == "solved":
                    solved = ts
            if status == "closed":
                t += timedelta(days=4)
                closed = ts = str(t)
                eid += 1
                E.append((eid, "status", "solved", "closed", "{}", ts, None, tid))
        T.append(
            (
                tid, subject, channel, category, priority, status, trying, expected, actual,
                refs, str(created), ts, claimed, responded, solved, closed, assignee, org,
                req_id,
            )
        )  # fmt: skip
        parts = (subject, req_email, req_name, trying, expected, actual, refs, *bodies)
        D.append((tid, "\n".join(p for p in parts if p)))
    return T, M, E, D
