"""The widget's form: the guided questions, screenshots, and (when anonymous) an email."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from caredesk.tickets import lifecycle
from caredesk.tickets.forms import GuidedFieldsMixin, MultipleFileField
from caredesk.tickets.models import Ticket

from .tokens import WidgetUser

TEXT_MAX = 20_000

# Screenshots only, recognised by their first bytes (the browser's content type is a claim).
# SVG is left out on purpose: it is a document that can carry script.
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_image(head: bytes) -> str | None:
    for signature, content_type in IMAGE_SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


class ScreenshotsField(MultipleFileField):
    """Zero or more images from one ``<input type=file multiple>``; cleans to a list."""

    def clean(self, data, initial=None):
        cleaned = super().clean(data, initial)
        try:
            lifecycle.validate_uploads(cleaned)  # the same limits as every other channel
        except lifecycle.TransitionError as err:
            raise forms.ValidationError(str(err)) from None
        for upload in cleaned:
            upload.seek(0)
            kind = sniff_image(upload.read(16))
            upload.seek(0)
            if kind is None:
                raise forms.ValidationError(
                    f"“{upload.name}” is not a PNG, JPEG, GIF or WebP image."
                )
            upload.content_type = kind
        return cleaned


def _label(name: str) -> str:
    return str(Ticket._meta.get_field(name).verbose_name)


def _textarea(rows: int) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class WidgetForm(GuidedFieldsMixin, forms.Form):
    email = forms.EmailField(
        label="Your email address",
        error_messages={"required": "Please give your email address, so that we can answer."},
        help_text="We answer by email, and you can follow the ticket in the portal.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    name = forms.CharField(
        label="Your name",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    subject = forms.CharField(
        max_length=250,
        error_messages={"required": "Please give a subject: a few words are enough."},
        help_text="A few words that say what went wrong.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    trying_to_do = forms.CharField(
        label=_label("trying_to_do"),
        max_length=TEXT_MAX,
        error_messages={"required": "Please say what you were trying to do."},
        widget=_textarea(3),
    )
    expected = forms.CharField(
        label=_label("expected"), max_length=TEXT_MAX, required=False, widget=_textarea(2)
    )
    actual = forms.CharField(
        label=_label("actual"),
        max_length=TEXT_MAX,
        error_messages={"required": "Please say what actually happened."},
        help_text="Error messages, in their exact words, help the most.",
        widget=_textarea(3),
    )
    references = forms.CharField(
        label=_label("references"),
        help_text=str(Ticket._meta.get_field("references").help_text),
        max_length=TEXT_MAX,
        required=False,
        widget=_textarea(2),
    )
    screenshots = ScreenshotsField(label="Screenshots")

    contact_fields = ("email", "name")

    def __init__(self, *args, identity: WidgetUser | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.identity = identity
        shots = self.fields["screenshots"]
        shots.help_text = (
            "Paste a screenshot here (Ctrl+V or ⌘V) or choose image files: PNG, JPEG, GIF "
            f"or WebP, up to {filesizeformat(settings.ATTACHMENT_MAX_BYTES)} each, at most "
            f"{settings.ATTACHMENTS_PER_MESSAGE}."
        )
        shots.widget.attrs.update(
            {
                "accept": "image/png,image/jpeg,image/gif,image/webp",
                "data-max-bytes": settings.ATTACHMENT_MAX_BYTES,
                "data-max-files": settings.ATTACHMENTS_PER_MESSAGE,
            }
        )
        # Asked only when no signed token says who this is.
        self.fields["email"].required = identity is None

    def contact(self):
        return [self[name] for name in self.contact_fields]

    def questions(self):
        return [self[name] for name in self.fields if name not in self.contact_fields]
