from django import forms


class DateInput(forms.DateInput):
    """The browser's date picker. It needs ISO dates whatever the site's locale prints."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")
