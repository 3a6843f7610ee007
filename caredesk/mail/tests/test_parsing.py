"""parse(): real-looking messages from the clients our customers use -> ParsedMail."""

# ruff: noqa: RUF001 (the expected texts are in Russian, French, German: not look-alikes)

from __future__ import annotations

import email
import email.policy
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from caredesk.mail import loops
from caredesk.mail.parsing import (
    ParsedAttachment,
    ParsedMail,
    decode_bytes,
    decode_header,
    html_to_text,
    parse,
    sanitize_filename,
    unflow,
)
from caredesk.mail.quoting import split_quoted

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> ParsedMail:
    return parse((SAMPLES / f"{name}.eml").read_bytes())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.eml")), ids=lambda p: p.stem)
def test_it_parses_every_sample_into_clean_text(path):
    parsed = parse(path.read_bytes())
    assert isinstance(parsed, ParsedMail)
    for value in (parsed.subject, parsed.text, parsed.html, parsed.from_name):
        assert "\x00" not in value
        value.encode("utf-8")  # no lone surrogates: the database would refuse them
    assert parsed.text.strip()
    assert parsed.date is None or parsed.date.tzinfo is not None


# ---------------------------------------------------------------- clients


def test_it_reads_outlook_html_only_mail():
    parsed = sample("outlook_html_only")
    assert parsed.subject == "Nightly export fails with 0x80070005"
    assert parsed.message_id == (
        "AM9PR04MB81316E2F0C1B7D3A9E4F1B2CC3222@AM9PR04MB8131.eurprd04.prod.outlook.com"
    )
    assert (parsed.from_address, parsed.from_name) == (
        "graham.okafor@northwind-logistics.co.uk",
        "Graham Okafor",
    )
    assert parsed.to == ["support@helpdesk.example.com"]
    assert parsed.date == datetime(2024, 3, 5, 9, 13, 58, tzinfo=UTC)
    assert parsed.text == (
        "Hello Support,\n"
        "\n"
        "Our nightly export to C:\\Exports\\daily\\new failed again with error 0x80070005 – "
        '"access denied".\n'
        "Steps we tried:\n"
        "\n"
        "- Restarted the Acme Sync service\n"
        "- Re-entered the API key\n"
        "\n"
        "See our status page (https://status.example.com/incidents/42) for the timeline.\n"
        "\n"
        "Kind regards,\n"
        "Graham Okafor\n"
        "IT Operations | Northwind Logistics"
    )
    assert "font-family" not in parsed.text and "o:p" not in parsed.html
    assert "<style" not in parsed.html and "Cambria" not in parsed.html
    assert '<a href="https://status.example.com/incidents/42"' in parsed.html
    assert parsed.attachments == [] and parsed.defects == []
    assert parsed.auto_submitted == ""


def test_it_reads_an_outlook_reply_with_original_message_block():
    parsed = sample("outlook_reply_original_message")
    assert parsed.subject == "RE: [#1042] Invoice INV-20931 is wrong"
    assert parsed.from_address == "s.devries@bluefield-trading.nl"  # lower-cased
    assert parsed.cc == ["p.jansen@bluefield-trading.nl"]  # "Jansen, Pieter" stays one
    assert parsed.in_reply_to == ["caredesk.t1042.m77.0b3c9d2e7f40@helpdesk.example.com"]
    assert parsed.references == [
        "caredesk.t1042.8c2f1a9d4e11@helpdesk.example.com",
        "caredesk.t1042.m77.0b3c9d2e7f40@helpdesk.example.com",
    ]
    assert parsed.date == datetime(2024, 3, 5, 7, 31, 17, tzinfo=UTC)
    new, rest = split_quoted(parsed.text)
    assert new == (
        "Thanks, the corrected invoice looks right now.\n\nWe will pay it this week.\n\n"
        "Regards,\nSanne de Vries\nFinance | Bluefield Trading B.V."
    )
    assert rest.startswith("-----Original Message-----\nFrom: Acme Support")
    # the HTML alternative is kept (sanitized) next to the preferred plain text
    assert "<b>From:</b>" in parsed.html


def test_it_reads_a_gmail_reply_and_its_quote():
    parsed = sample("gmail_reply_with_quote")
    assert parsed.from_name == "Lucía Fernández"
    assert parsed.message_id == "CAJx8Hq9+kT3sVn2Rm_pQ4Lw7eYc0ZbN5uA1fG6hD2jK8oX3yMw@mail.gmail.com"
    new, rest = split_quoted(parsed.text)
    assert new.endswith(
        "It happens in Chrome and Firefox – screenshot below is from Chrome.\n\nThanks,\nLucía"
    )
    assert rest.startswith("On Mon, Mar 4, 2024 at 4:02 PM Acme Support")
    assert "> Could you please request a new link" in rest
    # the HTML alternative, converted, folds at the same place (gmail_quote blockquote)
    html_new, html_rest = split_quoted(html_to_text(parsed.html))
    assert html_new == new
    assert html_rest.startswith("On Mon, Mar 4, 2024 at 4:02 PM Acme Support")


def test_it_concatenates_apple_mail_text_around_an_inline_image():
    parsed = sample("apple_mail_inline_image")
    assert parsed.text == (
        "Hello,\n\nsince this morning the dashboard shows this error when I open the sync page:"
        "\n\nIt worked fine until Friday. Grüße aus Zürich,\nZoë"
    )
    assert "since this morning" in parsed.html and "Grüße aus Zürich" in parsed.html
    [image] = parsed.attachments
    assert image.filename == "Screenshot 2024-03-05 at 11.40.12.png"
    assert image.content_type == "image/png"
    assert image.inline is True
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert sha256(image.content) == (
        "7bba2b65b475df2cf40fa99485e8c87cb352d582add50b621d0e9ff9624a5165"
    )
    assert parsed.from_name == "Zoë Müller"


# ---------------------------------------------------------------- charsets


def test_it_decodes_iso_8859_1_format_flowed():
    parsed = sample("iso8859_1_legacy")
    assert parsed.subject == "PDF-Export funktioniert nicht mehr – dringend"  # =96 is cp1252
    assert parsed.from_name == "Jürgen Schäfer"
    assert parsed.text == (
        "Hallo zusammen,\n\n"
        "seit dem Update auf Version 4.7 können wir keine Rechnungen mehr als PDF exportieren."
        " Die Fehlermeldung lautet »Zugriff verweigert«.\n\n"
        "Mit freundlichen Grüßen\nJürgen Schäfer\n-- \n"
        "Schäfer & Söhne GmbH, Hauptstraße 12, 80331 München"
    )
    assert parsed.defects == []


def test_it_reads_windows_1252_mislabeled_as_iso_8859_1():
    parsed = sample("windows1252_mislabeled")
    assert parsed.subject == "Facture – mauvais montant € 49,90"
    assert parsed.from_name == "François Lefèvre"
    assert parsed.text == (
        "Dear Acme team,\n\n"
        "your invoice says “Premium plan” at € 49,90 per month – but we booked the\n"
        "Basic plan (€ 19,90). Could you check this…\n\n"
        "Best regards,\nFrançois Lefèvre"
    )
    assert parsed.to == ["support@helpdesk.example.com"]


def test_it_decodes_koi8_r():
    parsed = sample("koi8r")
    assert parsed.subject == "Не могу войти в личный кабинет"
    assert parsed.from_name == "Ольга Смирнова"
    assert parsed.reply_to == ["olga.smirnova@mail.example.ru"]
    assert parsed.text.startswith("Здравствуйте!\n\nНе могу войти в личный кабинет:")
    assert parsed.text.endswith("С уважением,\nОльга Смирнова")
    assert parsed.date.utcoffset() == timedelta(hours=3)


def test_it_decodes_shift_jis_with_windows_extensions():
    parsed = sample("shift_jis")
    assert parsed.subject == "請求書のダウンロードについて"
    assert parsed.from_name == "髙橋 健"  # 髙 exists only in the Windows (cp932) superset
    assert "① 請求書のPDFがダウンロードできません。" in parsed.text
    assert parsed.text.endswith("よろしくお願いいたします。\n髙橋 健")
    assert parsed.defects == []


def test_it_decodes_raw_8bit_bytes_without_any_charset():
    parsed = sample("raw_8bit_non_utf8")
    assert parsed.subject == "Anfrage wegen Lieferung – dringend"
    assert (parsed.from_name, parsed.from_address) == (
        "Björn Weiß",
        "bjoern.weiss@autohaus-weiss.de",
    )
    assert "die Lieferung für Auftrag #771204" in parsed.text
    assert "€ 129,00 wurde bereits abgebucht. Bitte prüfen Sie das – danke." in parsed.text
    assert parsed.text.endswith("Grüße\nBjörn Weiß")
    assert parsed.defects == [
        "text/plain part: 8-bit text without a charset decoded as windows-1252"
    ]


def test_it_repairs_broken_encoded_words():
    parsed = sample("rfc2047_subject_broken")
    # spaces inside a Q word, a character split over two B words, missing padding
    assert parsed.subject == "Problème avec la facture – mars"
    # an unknown charset name: tried as UTF-8
    assert parsed.from_name == "José García"
    assert parsed.from_address == "jose@ferreteria-garcia.es"
    # an encoded comma in a display name does not split the address list
    assert parsed.to == ["support@helpdesk.example.com"]
    assert "Subject: malformed encoded-word (spaces inside)" in parsed.defects


# ---------------------------------------------------------------- attachments


def test_it_decodes_rfc2231_file_names_and_strips_paths():
    parsed = sample("rfc2231_filename")
    pdf, notes = parsed.attachments
    assert pdf == ParsedAttachment(
        filename="Rechnung März 2024 – Acme GmbH.pdf",
        content_type="application/pdf",
        content=pdf.content,
        inline=False,
        content_id="",
    )
    assert sha256(pdf.content) == "2ae28040e4e65031c0539758fe7314aba92f4616e01013f9ff41eaa6f8d19e37"
    assert notes.filename == "notes.txt"  # was C:\Users\dora\Desktop\..\notes.txt
    assert notes.content == b"Serial: AC-2291-XK\r\nLicence: 25 seats\r\n"
    assert parsed.text == "Hallo,\n\nanbei die Rechnung und die Lizenzdaten.\n\nDora"


def test_it_keeps_winmail_dat_as_an_attachment():
    parsed = sample("winmail_dat")
    [tnef] = parsed.attachments
    assert (tnef.filename, tnef.content_type, tnef.inline) == (
        "winmail.dat",
        "application/ms-tnef",
        False,
    )
    assert tnef.content.startswith(b"\x78\x9f\x3e\x22")
    assert sha256(tnef.content) == (
        "ad52a1f2f2e273e9b32be97b509defd37276f4700581af9e327a3f4fa913a38a"
    )
    assert parsed.text == "Please find our updated contact list attached.\n\nCagla"
    assert parsed.from_name == "Yilmaz, Cagla"


def test_a_forwarded_message_is_one_attachment_not_body():
    parsed = sample("forwarded_rfc822")
    assert "INNER TEXT" not in parsed.text
    assert parsed.text.startswith("Hello, this statement was sent to us by mistake")
    [forwarded] = parsed.attachments  # the inner PDF is inside it, not beside it
    assert forwarded.filename == "Your statement for February.eml"
    assert forwarded.content_type == "message/rfc822"
    inner = parse(forwarded.content)
    assert inner.subject == "Your statement for February"
    assert inner.message_id == "stmt-2024-02-88123@acme.example"
    [pdf] = inner.attachments
    assert sha256(pdf.content) == (
        "cb75dde409b11886dabff012ab096fff347a59216284bc9b91da7f98b7a1dd18"
    )
    assert parsed.bounce is None and parsed.auto_submitted == ""


def test_it_decodes_bad_base64_as_far_as_possible():
    parsed = sample("bad_base64_attachment")
    [log] = parsed.attachments
    expected = bytes(range(48, 108)) * 2
    assert log.content == expected[:117]  # junk skipped; the unpadded tail is cut
    assert log.filename == "sync.log"
    assert parsed.defects == ["attachment 'sync.log': invalid base64, decoded as far as possible"]
    assert parsed.text == "The log is attached."


def test_attachments_without_a_name_get_one_from_their_type():
    raw = (
        b"From: a@example.com\nMessage-ID: <x@example.com>\nDate: Thu, 7 Mar 2024 10:00:00 +0000\n"
        b'Content-Type: multipart/related; boundary="r"\n\n'
        b'--r\nContent-Type: text/html\n\n<p>logo: <img src="cid:logo1"></p>\n'
        b"--r\nContent-Type: image/png\nContent-ID: < logo1 >\nContent-Transfer-Encoding: base64"
        b"\n\niVBORw0KGgo=\n"
        b"--r\nContent-Type: application/x-caredesk-unknown\nContent-Disposition: attachment;"
        b' filename="../../"\n\nxyz\n--r--\n'
    )
    parsed = parse(raw)
    image, blob = parsed.attachments
    assert (image.filename, image.inline, image.content_id) == ("attachment-1.png", True, "logo1")
    assert image.content == b"\x89PNG\r\n\x1a\n"
    assert (blob.filename, blob.inline) == ("attachment-2.bin", False)
    assert '<img src="cid:logo1">' in parsed.html
    assert parsed.text == "logo:"


def test_sanitize_filename():
    assert sanitize_filename("C:\\Users\\x\\report.pdf") == "report.pdf"
    assert sanitize_filename("../../etc/passwd") == "passwd"
    assert sanitize_filename("  .hidden\x00\x07name.txt. ") == "hidden name.txt"
    assert sanitize_filename("..") == ""
    long = sanitize_filename("a" * 300 + ".pdf")
    assert long.endswith(".pdf") and len(long) <= 200


# ---------------------------------------------------------------- machines


def test_it_reads_a_dsn_bounce():
    parsed = sample("dsn_bounce_5_1_1")
    assert parsed.auto_submitted == "bounce"
    assert parsed.bounce is not None
    assert parsed.bounce.original_message_ids == ["caredesk.t12.m34.abc@demo.caredesk.test"]
    assert parsed.bounce.recipients == ["jdoe@example.org"]
    assert parsed.bounce.status == "5.1.1"
    assert parsed.bounce.diagnostic == (
        "550 5.1.1 <jdoe@example.org>: Recipient address rejected: User unknown in virtual "
        "mailbox table"
    )
    assert parsed.bounce.permanent is True
    assert parsed.from_address == "mailer-daemon@mx.demo.caredesk.test"
    assert parsed.text.startswith("This is the mail system at host mx.demo.caredesk.test.")
    assert parsed.attachments == []  # the returned headers are read, not attached
    assert not loops.may_auto_reply(parsed, ["support@demo.caredesk.test"])


def test_a_delayed_dsn_is_a_temporary_bounce():
    raw = (SAMPLES / "dsn_bounce_5_1_1.eml").read_bytes()
    raw = raw.replace(b"Action: failed", b"Action: delayed").replace(
        b"Status: 5.1.1", b"Status: 4.4.1"
    )
    bounce = parse(raw).bounce
    assert (bounce.status, bounce.permanent) == ("4.4.1", False)


def test_a_success_dsn_is_a_notification_not_a_bounce():
    raw = (SAMPLES / "dsn_bounce_5_1_1.eml").read_bytes()
    raw = raw.replace(b"Action: failed", b"Action: delivered").replace(b"5.1.1", b"2.0.0")
    parsed = parse(raw)
    assert parsed.bounce is None
    assert parsed.auto_submitted == "auto-notified"


def test_it_recognises_a_non_standard_bounce_from_mailer_daemon():
    raw = b"""From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: support@demo.caredesk.test
Subject: Mail delivery failed: returning message to sender
Date: Thu, 7 Mar 2024 12:00:00 +0000
Message-Id: <E1rh2-0004@mx.example.net>
X-Failed-Recipients: gone@example.net
In-Reply-To: <caredesk.t7.m9.feed@demo.caredesk.test>

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  gone@example.net
    host mx.example.net [198.51.100.7]
    SMTP error from remote mail server after RCPT TO:<gone@example.net>:
    550 5.1.1 No such user here

------ This is a copy of the message, including all the headers. ------

Message-ID: <caredesk.t7.m9.feed@demo.caredesk.test>
Subject: [#7] Your request
"""
    parsed = parse(raw)
    assert parsed.auto_submitted == "bounce"
    assert parsed.bounce.recipients == ["gone@example.net"]
    assert parsed.bounce.status == "5.1.1"
    assert parsed.bounce.permanent is True
    assert parsed.bounce.original_message_ids == ["caredesk.t7.m9.feed@demo.caredesk.test"]
    assert "550 5.1.1 No such user here" in parsed.bounce.diagnostic


def test_it_flags_exchange_out_of_office():
    parsed = sample("out_of_office_exchange")
    assert parsed.subject == "Automatic reply: [#1044] Delivery delayed"
    assert parsed.auto_submitted == "auto-replied"  # says auto-generated, subject says reply
    assert parsed.auto_response_suppress == ["all"]
    assert loops.is_out_of_office(parsed)
    assert not loops.may_auto_reply(parsed, ["support@helpdesk.example.com"])
    assert parsed.bounce is None
    assert parsed.to == ["support+t1044.77d0ab31fe@helpdesk.example.com"]


def test_it_flags_an_auto_submitted_vacation_reply():
    parsed = sample("autoreply_auto_submitted")
    assert parsed.auto_submitted == "auto-replied"
    assert loops.is_out_of_office(parsed)
    assert parsed.text == (
        "Thank you for your message. I am on parental leave and will not read e-mail\n"
        "until 2 April."
    )


def test_it_flags_mailing_list_mail():
    parsed = sample("mailing_list_bulk")
    assert parsed.auto_submitted == "list"
    assert not loops.is_out_of_office(parsed)
    assert not loops.may_auto_reply(parsed, ["support@helpdesk.example.com"])


def test_mail_without_a_message_id():
    parsed = sample("no_message_id")
    assert parsed.message_id == ""
    assert parsed.defects == ["no Message-ID header"]
    assert parsed.from_address == "webshop@cedarfoods.example" and parsed.from_name == ""
    assert parsed.text.endswith("Message: Where is my order #481516?")


# ---------------------------------------------------------------- HTML


def test_it_strips_scripts_handlers_and_javascript_urls():
    parsed = sample("html_with_script")
    html = parsed.html.lower()
    for bad in ("<script", "onerror", "onload", "javascript:", "<iframe", "<form", "<style"):
        assert bad not in html
    assert "document.cookie" not in html and "alert" not in html
    assert '<img src="cid:logo@apexmedia.io" alt="logo">' in parsed.html
    assert '<a href="https://acme.example/help"' in parsed.html
    assert parsed.text == (
        "Please reset my account.\n\nClick here or read the help (https://acme.example/help)."
        "\n\nagain"
    )


def test_html_to_text():
    html = """<html><head><style>p {color: red}</style><title>T</title></head><body>
    <h1>Title</h1><p>First&nbsp;paragraph &amp; more,<br>second line</p>
    <ol><li>one</li><li>two <a href="https://x.example/a">link</a></li></ol>
    <ul><li>dot <a href="mailto:me@x.example">me@x.example</a></li></ul>
    <table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>
    <pre>  keep   spaces
  here</pre>
    <blockquote>quoted<blockquote>twice</blockquote></blockquote><script>x()</script>
    </body></html>"""
    assert html_to_text(html) == (
        "Title\n\nFirst paragraph & more,\nsecond line\n\n"
        "1. one\n2. two link (https://x.example/a)\n\n"
        "- dot me@x.example\n\n"
        "a  b\nc  d\n\n"
        "  keep   spaces\n  here\n\n"
        "> quoted\n>\n> > twice"
    )
    assert html_to_text("<p>unclosed <b>tags <i>everywhere") == "unclosed tags everywhere"
    assert html_to_text("") == ""


# ---------------------------------------------------------------- building blocks


def test_decode_header_variants():
    assert decode_header("=?utf-8?q?Caf=C3=A9?= =?utf-8?q?_cr=C3=A8me?=") == "Café crème"
    assert decode_header("Re: =?ISO-8859-1?Q?Gr=FC=DFe?= aus Wien") == "Re: Grüße aus Wien"
    assert decode_header("=?gb2312?B?1tDOxA==?=") == "中文"
    assert decode_header("=?UTF-8*en?B?SGVsbG8=?=") == "Hello"  # RFC 2231 language
    assert decode_header("plain\n text") == "plain text"
    problems: list[str] = []
    assert decode_header("=?utf-8?B?SGVsbG8", problems) == "Hello"
    assert "header: unterminated encoded-word" in problems
    assert decode_header("Stra\udcdfe") == "Straße"  # raw 8-bit latin-1 in a header


def test_decode_bytes_never_fails():
    assert decode_bytes("naïve".encode(), "utf-8") == ("naïve", "")
    assert decode_bytes(b"na\xefve", "utf-8") == (
        "naïve",
        "8-bit text declared 'utf-8' decoded as windows-1252",
    )
    assert decode_bytes(b"\x80", "no-such-charset")[0] == "€"
    assert decode_bytes(b"a\\nb", "unicode_escape")[0] == "a\\nb"  # never unicode_escape
    assert decode_bytes(b"\xff\xfe\x00", "utf-16")[1].startswith("bytes undecodable")
    text, problem = decode_bytes(b"\x81\x9d", "iso-8859-1")
    assert text == "\x81\x9d" and problem == ""


def test_unflow():
    flowed = "This is a \nflowed line.\n> quoted \n> text\n-- \nsig"
    assert unflow(flowed) == "This is a flowed line.\n> quoted text\n-- \nsig"
    assert unflow("No space\n stuffed line") == "No space\nstuffed line"
    assert unflow("del sp \nyes", delsp=True) == "del spyes"


def test_header_edge_cases():
    raw = (
        b'From: "Doe, John (Sales)" <John.Doe@Example.COM>\n'
        b"To: undisclosed-recipients:;\n"
        b"Cc: a@example.com, A@example.com, broken <, b@example.com\n"
        b"Message-ID:\n <  id-with\n spaces@example.com >\n"
        b"References: id1@example.com id2@example.com\n"
        b"Date: Thu, 7 Mar 2024 10:00:00 -0000\n"
        b"Subject:   lots\tof    space  \n\n"
        b"body\n"
    )
    parsed = parse(raw)
    assert (parsed.from_name, parsed.from_address) == ("Doe, John (Sales)", "john.doe@example.com")
    assert parsed.to == []
    assert parsed.cc == ["a@example.com", "b@example.com"]
    assert parsed.message_id == "id-withspaces@example.com"
    assert parsed.references == ["id1@example.com", "id2@example.com"]
    assert parsed.date == datetime(2024, 3, 7, 10, 0, tzinfo=UTC)
    assert parsed.subject == "lots of space"


def test_a_bad_date_is_a_defect_not_an_error():
    parsed = parse(b"From: a@example.com\nDate: yesterday-ish\nMessage-ID: <x@y>\n\nhi\n")
    assert parsed.date is None
    assert parsed.defects == ["unparseable Date header 'yesterday-ish'"]
    parsed = parse(b"From: a@example.com\nDate: Thu, 7 Mar 2024 10:00:00 +0530\n\nhi\n")
    assert parsed.date.utcoffset() == timezone(timedelta(hours=5, minutes=30)).utcoffset(None)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe",
        b"just some text without headers",
        b"Content-Type: multipart/mixed\n\nno boundary at all",
        b'Content-Type: multipart/mixed; boundary="x"\n\n--x\nContent-Type: text/plain\n\nno end',
        b"Content-Type: text/plain; charset=\xff\xfe\nContent-Transfer-Encoding: base64\n\n!!!!",
        b"From: =?utf-8?B?\xff?= <\xff@\xfe>\nSubject: =?x?q?=ZZ?=\n\n\xff",
        b'Content-Type: multipart/mixed; boundary="a"\n\n'
        + b"--a\nContent-Type: message/rfc822\n\n" * 200,
        b'Content-Type: multipart/mixed; boundary="a"\n\n'
        + b"".join(
            b'--a\nContent-Type: multipart/mixed; boundary="a%d"\n\n--a%d\n' % (i, i)
            for i in range(500)
        ),
    ],
    ids=[
        "empty",
        "binary",
        "no-headers",
        "no-boundary",
        "truncated",
        "bad-charset",
        "garbage",
        "nested-messages",
        "deep",
    ],
)
def test_it_never_raises_on_garbage(raw):
    parsed = parse(raw)
    assert isinstance(parsed, ParsedMail)
    assert isinstance(parsed.text, str) and isinstance(parsed.defects, list)
    parsed.text.encode("utf-8")
    parsed.subject.encode("utf-8")


def test_an_empty_message_says_so():
    parsed = parse(b"")
    assert parsed.defects[0] == "empty message"
    assert (parsed.message_id, parsed.from_address, parsed.text) == ("", "", "")


def test_it_matches_the_stdlib_on_a_simple_message():
    msg = email.message.EmailMessage(policy=email.policy.default)
    msg["From"] = "Ana Gonçalves <ana@example.pt>"
    msg["To"] = "support@helpdesk.example.com"
    msg["Subject"] = "Olá, preciso de ajuda"
    msg["Message-ID"] = "<abc@example.pt>"
    msg["Date"] = "Thu, 07 Mar 2024 10:00:00 +0000"
    msg.set_content("Bom dia,\nnão consigo entrar.\n")
    msg.add_attachment(
        b"\x00\x01\x02", maintype="application", subtype="octet-stream", filename="dados ção.bin"
    )
    parsed = parse(msg.as_bytes())
    assert parsed.subject == "Olá, preciso de ajuda"
    assert parsed.from_name == "Ana Gonçalves"
    assert parsed.text == "Bom dia,\nnão consigo entrar."
    assert [(a.filename, a.content) for a in parsed.attachments] == [
        ("dados ção.bin", b"\x00\x01\x02")
    ]
    assert parsed.defects == []
