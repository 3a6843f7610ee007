"""Is a message's From address really its sender's? What the receiving mail server found.

caredesk does not check SPF, DKIM or DMARC itself: the mail server that received the
message from the internet did, and wrote its findings into ``Authentication-Results``
(RFC 8601), headed by its own name (the *authserv-id*). Only the topmost headers under
the name set in ``MAIL_AUTHSERV_ID`` count, those with no Received line between them:
anyone can write such a header into a message, but the server adds its own on top of
the Received line it writes (and should remove older ones with its name, RFC 8601
section 5). Without that setting nothing is known: the verdict is always NONE.

- PASS: DMARC passed for the From domain, or DKIM (``header.d``) or SPF
  (``smtp.mailfrom``) passed for a domain aligned with it (the same, or a parent).
- FAIL: DMARC failed for the From domain: its owner says this mail is not theirs.
- NONE: anything else (no DMARC record, no results, no trusted server configured).

How processing uses it (mail/processing.py): mail whose From is an agent's speaks as
support only with PASS (otherwise it is kept as an internal note, flagged); any mail
with FAIL is quarantined until a manager releases it (``caredesk mail retry --release``
or the ledger's Release button); a release never lets mail speak as an agent.
"""

from __future__ import annotations

import re

PASS, FAIL, NONE = "pass", "fail", "none"

_COMMENT = re.compile(r"\([^()]*\)")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_METHOD = re.compile(r"^\s*([a-z0-9_.-]+)(?:/\d+)?\s*=\s*([a-z0-9_-]+)", re.IGNORECASE)
_PROPERTY = re.compile(r"([a-z0-9_-]+\.[a-z0-9_-]+)\s*=\s*(\S+)", re.IGNORECASE)


def _without_comments(value: str) -> str:
    value = _QUOTED.sub('""', value)  # a reason="a (b); c" says nothing we read
    while True:
        stripped = _COMMENT.sub(" ", value)
        if stripped == value:
            return value
        value = stripped


def _results(header: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """(authserv-id, [(method, result, {ptype.property: value})]) of one header."""
    parts = _without_comments(" ".join(header.split())).split(";")
    authserv_id = parts[0].split()[0].lower() if parts[0].split() else ""
    found = []
    for part in parts[1:]:
        method = _METHOD.match(part)
        if method is None:
            continue  # "none": the server found nothing to report
        properties = {
            name.lower(): value.strip('"').lower() for name, value in _PROPERTY.findall(part)
        }
        found.append((method.group(1).lower(), method.group(2).lower(), properties))
    return authserv_id, found


def _aligned(domain: str, from_domain: str) -> bool:
    """DMARC's relaxed alignment, without the public suffix list: the same domain, or
    one a parent of the other (no one can sign for a public suffix such as co.uk)."""
    domain = domain.rpartition("@")[2].strip(".")
    if not domain:
        return False
    return (
        domain == from_domain
        or from_domain.endswith("." + domain)
        or (domain.endswith("." + from_domain))
    )


def _first_run(headers: list[str], authserv_id: str) -> list:
    """The results of the topmost run of headers under ``authserv_id`` with no hop
    between them ("" stands for a Received header): what the server added on receipt,
    often one header per filter (DKIM, SPF, DMARC), above the Received line it wrote
    itself. Headers under its name below that line came with the message."""
    run: list = []
    for header in headers:
        server, found = _results(header) if header else ("", [])
        if server == authserv_id:
            run.extend(found)
        elif run:
            break  # a hop, or another server's findings: the run is over
    return run


def verdict(headers: list[str], from_address: str, authserv_id: str) -> str:
    """PASS, FAIL or NONE for ``from_address``, from the ``Authentication-Results``
    ``headers`` of the server named ``authserv_id`` (see the module's docstring)."""
    if not authserv_id or "@" not in from_address:
        return NONE
    from_domain = from_address.rpartition("@")[2].lower()
    ours = _first_run(headers, authserv_id.lower())
    if not ours:
        return NONE
    outcome = NONE
    for method, result, properties in ours:
        if method == "dmarc" and properties.get("header.from", from_domain) == from_domain:
            if result == "pass":
                return PASS
            if result == "fail":
                outcome = FAIL
        elif result == "pass" and (
            (method == "dkim" and _aligned(properties.get("header.d", ""), from_domain))
            or (method == "spf" and _aligned(properties.get("smtp.mailfrom", ""), from_domain))
        ):
            return PASS
    return outcome
