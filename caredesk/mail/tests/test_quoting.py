"""split_quoted(): the new part of a reply, and the folded rest."""

from __future__ import annotations

import pytest

from caredesk.mail.quoting import split_quoted

NEW = "Thanks, that fixed it.\n\nBest,\nAna"


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, 4 Mar 2024 at 16:02, Acme Support <support@helpdesk.example.com> wrote:",
        # Gmail and textwrap break long attributions
        "On Mon, Mar 4, 2024 at 4:02 PM Acme Support <\nsupport@helpdesk.example.com> wrote:",
        "On Mon, 04 Mar 2024 07:30:05 +0000, Priya Patel <priya.patel@gmail.com>\nwrote:",
        "On 04/03/2024 16:02, Acme Support wrote:",  # Thunderbird
        "Am Mo., 4. März 2024 um 16:02 Uhr schrieb Acme Support <\nsupport@helpdesk.example.com>:",
        "Am 04.03.2024 um 16:02 schrieb Acme Support:",
        "Le lun. 4 mars 2024 à 16:02, Acme Support <support@helpdesk.example.com> a écrit :",
        "El lun, 4 mar 2024 a las 16:02, Acme Support (<support@helpdesk.example.com>)\nescribió:",
        "Op ma 4 mrt. 2024 om 16:02 schreef Acme Support <support@helpdesk.example.com>:",
        "Il giorno lun 4 mar 2024 alle ore 16:02 Acme Support ha scritto:",
        "Den mån 4 mars 2024 kl 16:02 skrev Acme Support <support@helpdesk.example.com>:",
    ],
)
def test_it_folds_at_an_attribution_line(attribution):
    text = f"{NEW}\n\n{attribution}\n\n> Did the update help?\n> \n> Acme Support\n"
    new, rest = split_quoted(text)
    assert new == NEW
    assert rest.startswith(attribution.split("\n")[0])
    assert rest.endswith("> Acme Support")


def test_it_folds_an_attribution_without_quote_markers():
    # some clients put the attribution above an unquoted copy (HTML converted to text)
    text = f"{NEW}\n\nOn Mon, 4 Mar 2024 at 16:02, Acme Support wrote:\nDid the update help?"
    assert split_quoted(text) == (
        NEW,
        "On Mon, 4 Mar 2024 at 16:02, Acme Support wrote:\nDid the update help?",
    )


def test_it_folds_outlook_original_message():
    text = (
        f"{NEW}\n\n-----Original Message-----\nFrom: Acme Support <support@helpdesk.example.com>\n"
        "Sent: Monday, March 4, 2024 4:02 PM\nTo: ana@example.pt\nSubject: RE: Help\n\nOld text"
    )
    new, rest = split_quoted(text)
    assert new == NEW
    assert rest.startswith("-----Original Message-----")


@pytest.mark.parametrize(
    "separator",
    [
        "-----Ursprüngliche Nachricht-----",
        "----- Message d'origine -----",
        "-----Mensaje original-----",
        "-----Oorspronkelijk bericht-----",
    ],
)
def test_it_folds_translated_original_message_separators(separator):
    new, rest = split_quoted(f"{NEW}\n\n{separator}\nVon: x@example.com\nOld")
    assert (new, rest.splitlines()[0]) == (NEW, separator)


@pytest.mark.parametrize(
    "block",
    [
        "From: Acme Support <support@helpdesk.example.com>\nSent: Monday, March 4, 2024 4:02 PM\n"
        "To: Ana <ana@example.pt>\nSubject: [#12] Help",
        "*From:* Acme Support <support@helpdesk.example.com>\n*Sent:* Monday, March 4, 2024\n"
        "*To:* Ana\n*Subject:* [#12] Help",  # Outlook HTML converted by Gmail
        "Von: Acme Support <support@helpdesk.example.com>\nGesendet: Montag, 4. März 2024 16:02\n"
        "An: Ana\nBetreff: [#12] Hilfe",
        "De : Acme Support <support@helpdesk.example.com>\nEnvoyé : lundi 4 mars 2024 16:02\n"
        "À : Ana\nObjet : [#12] Aide",
        "De: Acme Support\nEnviado: lunes, 4 de marzo de 2024 16:02\nPara: Ana\nAsunto: Ayuda",
        "Van: Acme Support\nVerzonden: maandag 4 maart 2024 16:02\nAan: Ana\nOnderwerp: Hulp",
    ],
)
def test_it_folds_an_outlook_header_block(block):
    text = f"{NEW}\n\n{block}\n\nHello Ana, did the update help?"
    new, rest = split_quoted(text)
    assert new == NEW
    assert rest.startswith(block.split("\n")[0])


def test_it_folds_at_the_outlook_web_underscore_line():
    text = f"{NEW}\n\n________________________________\nFrom: Acme Support\nOld message"
    assert split_quoted(text) == (
        NEW,
        "________________________________\nFrom: Acme Support\nOld message",
    )


def test_a_from_line_alone_is_not_a_header_block():
    text = "From: the billing page I cannot download invoices.\nPlease help."
    assert split_quoted(text) == (text, "")


def test_it_folds_a_trailing_quote_block_but_keeps_inline_answers():
    bottom = "Sure, here it is.\n\n> Could you send the log?\n> Thanks"
    assert split_quoted(bottom) == ("Sure, here it is.", "> Could you send the log?\n> Thanks")
    inline = "> Which version?\n4.7\n\n> Which browser?\nFirefox 123\n\nAna"
    assert split_quoted(inline) == (inline, "")


def test_it_folds_the_signature():
    text = "Please call me back.\n\n-- \nAna Gonçalves\n+351 21 000 0000"
    assert split_quoted(text) == ("Please call me back.", "-- \nAna Gonçalves\n+351 21 000 0000")
    no_space = "Please call me back.\n--\nAna Gonçalves"
    assert split_quoted(no_space) == ("Please call me back.", "--\nAna Gonçalves")
    assert split_quoted("a -- b\n---\nnot a signature") == ("a -- b\n---\nnot a signature", "")


@pytest.mark.parametrize(
    "mobile",
    [
        "Sent from my iPhone",
        "Sent from my Galaxy",
        "Get Outlook for iOS",
        "Von meinem iPhone gesendet",
        "Envoyé de mon iPad",
        "Enviado desde mi iPhone",
        "Verstuurd vanaf mijn iPhone",
    ],
)
def test_it_folds_mobile_signatures(mobile):
    text = f"Yes, tomorrow works.\n\n{mobile}\n\n> On Monday we could call.\n"
    assert split_quoted(text) == ("Yes, tomorrow works.", f"{mobile}\n\n> On Monday we could call.")


def test_the_earliest_marker_wins():
    text = f"{NEW}\n-- \nsig\n\nOn Mon, 4 Mar 2024, Acme wrote:\n> old"
    assert split_quoted(text) == (NEW, "-- \nsig\n\nOn Mon, 4 Mar 2024, Acme wrote:\n> old")


@pytest.mark.parametrize(
    "text",
    [
        "> everything\n> is quoted",
        "On Mon, 4 Mar 2024, Acme wrote:\n> only the quote",
        "-- \nonly a signature",
        "Sent from my iPhone",
        "-----Original Message-----\nFrom: a\nSent: b\nTo: c\nSubject: d\n\ntext",
    ],
)
def test_it_never_returns_an_empty_new_part(text):
    assert split_quoted(text) == (text, "")


def test_trivial_inputs():
    assert split_quoted("") == ("", "")
    assert split_quoted("Hello") == ("Hello", "")
    assert split_quoted("Hello\r\n\r\n> quoted\r\n") == ("Hello", "> quoted")


def test_mentioning_wrote_in_a_sentence_is_not_an_attribution():
    text = "On Monday my colleague wrote: the export is broken.\nCan you check?"
    assert split_quoted(text) == (text, "")
