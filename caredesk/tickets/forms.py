"""Form pieces shared by the pages that open tickets or take files (portal, workspace,
widget)."""

from __future__ import annotations

from django import forms

from .lifecycle import GuidedFields


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Zero or more files from one ``<input type=file multiple>``; cleans to a list."""

    widget = MultipleFileInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        single = super().clean
        return [cleaned for f in files if f and (cleaned := single(f, initial))]


class GuidedFieldsMixin:
    """For a form with the four guided questions as fields of their own names."""

    cleaned_data: dict

    def guided_fields(self) -> GuidedFields:
        data = self.cleaned_data
        return GuidedFields(
            trying_to_do=data["trying_to_do"],
            expected=data["expected"],
            actual=data["actual"],
            references=data["references"],
        )
