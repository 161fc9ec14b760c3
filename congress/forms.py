"""The admin's forms: a proposal checked exactly as the API checks it, a vote, a status change."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from . import remedies, services
from .lifecycle import Status
from .models import Proposal, Voter
from .voting import Choice

MAX_VOTERS = 1_000_000  # as the API: past the database column is an overflow, not a choice
# What proposal_fields_check looks at; while voting is open they are read-only and not in the form.
CHECKED = ("remedy", "remedy_args", "quorum", "electorate")


def remedy_choices() -> list[tuple[str, str]]:
    """Asked on every form: remedies register when the apps are ready."""
    return [("", "---------")] + [
        (name, f"{name}: {text}") for name, text in remedies.describe().items()
    ]


class ProposalForm(forms.ModelForm):
    remedy = forms.ChoiceField(
        choices=remedy_choices,
        required=False,
        label=_("remedy"),
        help_text=_("Carried out once the proposal is approved."),
    )
    quorum = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_VOTERS,
        label=_("quorum"),
        help_text=_(
            "Non-abstaining voters needed. Empty: 1, or with a remedy the minimum "
            "(CONGRESS_REMEDY_MIN_VOTERS), never less."
        ),
    )
    electorate = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_VOTERS,
        label=_("electorate"),
        help_text=_("Eligible voters, if known: voting then closes once the outcome is settled."),
    )

    class Meta:
        model = Proposal
        # The admin narrows this to what is not read-only for the proposal's status.
        fields = [
            "title",
            "description",
            "category",
            "priority",
            "tags",
            "remedy",
            "remedy_args",
            "voting_rule",
            "quorum",
            "electorate",
            "voting_deadline",
        ]

    def clean_tags(self):
        tags = self.cleaned_data.get("tags") or []
        # As the API takes them: a list of short words.
        if not isinstance(tags, list) or not all(isinstance(t, str) and len(t) <= 50 for t in tags):
            raise forms.ValidationError(_("Tags are a JSON list of words (at most 50 characters)."))
        return tags

    def clean_remedy_args(self):
        args = self.cleaned_data.get("remedy_args")
        if args is None:  # an emptied box: no arguments
            return {}
        if not isinstance(args, dict):
            raise forms.ValidationError(_("The remedy's arguments are a JSON object."))
        return args

    def clean(self):
        data = super().clean()
        if "remedy" not in self.fields or any(f in self.errors for f in CHECKED):
            return data  # voting has opened (read-only), or a field is already wrong
        try:
            checked = services.proposal_fields_check({f: data.get(f) for f in CHECKED})
        except remedies.UnknownRemedy as e:
            self.add_error("remedy", str(e))
        except remedies.InvalidRemedy as e:
            self.add_error("remedy_args", str(e))
        except services.RemedyBounds as e:
            self.add_error(None, str(e))
        else:
            data["quorum"] = checked["quorum"]
        return data


class VoteForm(forms.Form):
    choice = forms.ChoiceField(choices=[(c.value, c.value) for c in Choice])
    reason = forms.CharField(required=False, max_length=5000)


class TransitionForm(forms.Form):
    to = forms.ChoiceField(choices=[(s.value, s.value) for s in Status])
    note = forms.CharField(required=False, max_length=5000)


class VoterForm(forms.ModelForm):
    class Meta:
        model = Voter
        fields = ["name", "weight", "note"]

    def clean_name(self):
        # A name no vote is cast under would weigh nothing, silently: say so now.
        name = self.cleaned_data["name"].strip()
        kind, _sep, rest = name.partition(":")
        if kind not in ("agent", "user") or not rest:
            raise forms.ValidationError(_("A voter is agent:<key name> or user:<username>."))
        return name
