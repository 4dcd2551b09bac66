"""The launch form. The main choices up front; every other TuneConfig field, with the tuner's own help
text and default, under "Advanced settings". Values are checked by TuneConfig itself, so a bad value
gets the tuner's plain message on its field."""

from __future__ import annotations

import dataclasses
from functools import cached_property

from django import forms
from django.core.exceptions import ValidationError

from webapp.accounts.selectors import workspaces_writable
from webapp.core.params import whole_number
from webapp.core.templatetags.formatting import percent_share
from webapp.core.text import refuse_control_characters
from webapp.datasets.models import DatasetVersion
from webapp.datasets.selectors import dataset_version_check_shots, dataset_versions_ready
from webapp.integrations.backbones import backbone_choices, default_backbone
from webapp.integrations.tuning import (
    NO_QUERY_METHODS,
    SPARSE_METHODS,
    Method,
    TuneConfig,
    allowed_range,
    method_label,
    tune_fields,
)
from webapp.jobs.bounds import launch_bounds
from webapp.jobs.estimates import queries_for_minutes, workload_of
from webapp.jobs.health import queue_has_live_worker, real_backbones
from webapp.jobs.queues import job_queue
from webapp.jobs.services import MAIN_FIELDS, tune_config_from

# Auto is the default so that a first run gets the best of the menu on validation rather than one method's luck
# (tuning/methods/auto.py; bench/results/auto_*.md). When a user picks a forward-only method, What to adapt starts
# at the prompt and a linear head (sparse adapters, no image weight), which beat prompt-only on validation at the
# first-run budget (bench/results/quality_sparse_*_firstrun_2000.md).
DEFAULT_METHOD, DEFAULT_ADAPT, DEFAULT_PARAM_BUDGET = Method.AUTO, "sparse", "0"
FORM_ORDER = (Method.AUTO, Method.CMAES, Method.LINEAR_PROBE, Method.SHARPZO, Method.TIP_ADAPTER, Method.ZEROSHOT,
              Method.ZOSGD, Method.COOP)  # the default first; the backpropagation reference last
METHOD_CHOICES = [(m.value, m.description + (" (default)" if m == DEFAULT_METHOD else "")) for m in FORM_ORDER]
DEFAULT_METHOD_REASON = ("Auto tries the quick methods first, starts the forward-only search from the best of them, "
                         "and keeps a costlier result only when it beats a cheaper one on validation by more than "
                         "chance; pick a single method below if you want that one.")


NO_GPU_WORKER_HELP = ("No GPU worker is registered right now: a job that asks for one stays queued until a GPU "
                      "worker starts. Leave this off to run on any worker.")
MAX_BUDGET_MINUTES = 7 * 24 * 60  # a week of worker time
FIRST_RUN_BUDGET = 2000  # the tuner's own default (20,000, the paper's) is offered in the help text

# What to adapt: TuneConfig's `adapt` and `param_budget`, said in plain words. Only the methods
# that tune with queries over the joint vector (SPARSE_METHODS) can adapt the image model too.
ADAPT_CHOICES = [
    ("prompt", "Prompt only: the words in front of each class name"),
    ("sparse", "Sparse adapters on both towers: the prompt, a linear head, and a small share of the image model"),
]
PARAM_BUDGET_CHOICES = [
    ("0", "0% (prompt and head only; default)"),
    ("0.001", "0.1%"),
    ("0.005", "0.5%"),
    ("0.02", "2%"),
]
ADAPT_FIELDS = ("adapt", "param_budget")


def adapt_default(method: str | None) -> str:
    """What to adapt when nobody said: the form's default where the method can use it, else "prompt"
    (the form switches the same way in the browser, job_form.js; the API asks here)."""
    return DEFAULT_ADAPT if method in SPARSE_METHODS else "prompt"


def image_weights_text(backbone: str, param_budget: str | None) -> str:
    """'0.5% of this backbone's image model is about 12,345 of its 2,469,130 weights.', where a sparse
    adapter tuned on the backbone recorded its size; else says when it will be known."""
    from webapp.adapters.adapted import backbone_image_size

    try:
        share = float(param_budget) if param_budget not in (None, "") else None
    except ValueError:
        share = None
    total = (backbone_image_size(backbone) or {}).get("image_parameters")
    if not total:
        return "The number of weights this is shows here after the first sparse-adapter job on this backbone."
    if share is None:
        return f"This backbone's image model has {total:,} weights."
    if share == 0:
        return f"None of the image model's {total:,} weights change; only the prompt and the linear head are tuned."
    return (f"{percent_share(share)} of this backbone's image model is about {max(1, round(share * total)):,} "
            f"of its {total:,} weights.")


class FractionChoiceField(forms.TypedChoiceField):
    """A choice of fractions that also takes them as numbers (the API's 0.02, 0.0), not only as the listed text."""

    def valid_value(self, value) -> bool:
        try:
            return float(value) in {float(key) for key, _ in self.choices}
        except (TypeError, ValueError):
            return False


class DatasetVersionChoice(forms.ModelChoiceField):
    def label_from_instance(self, version: DatasetVersion) -> str:
        counts = version.class_counts or {}
        return f"{version} ({len(counts)} classes, {sum(counts.values())} images)"


def _advanced_field(f: dataclasses.Field) -> forms.Field:
    """A form field for one TuneConfig field; its help (TuneConfig's) says its bounds."""
    common = {"required": False, "initial": f.default, "help_text": f.metadata.get("help", ""),
              "label": f.name.replace("_", " ").capitalize()}
    kind = type(f.default)
    if "choices" in f.metadata:
        return forms.ChoiceField(choices=[(c, c) for c in f.metadata["choices"]], **common)
    if kind is bool:
        return forms.BooleanField(**common)
    if kind is int:
        return forms.IntegerField(**common)
    if kind is float:
        return forms.FloatField(**common)
    return forms.CharField(max_length=300, **common)


class JobCreateForm(forms.Form):
    sparse_methods = SPARSE_METHODS  # the template tells the browser where "What to adapt" applies

    name = forms.CharField(max_length=120, required=False, validators=[refuse_control_characters],
                           help_text="Optional; a name is made up from the method and dataset.")
    dataset_version = DatasetVersionChoice(queryset=DatasetVersion.objects.none(), empty_label=None,
                                           help_text="Only versions that passed their checks (ready) are listed.")
    backbone = forms.ChoiceField(help_text="The frozen CLIP model the prompt is tuned for.")
    method = forms.ChoiceField(choices=METHOD_CHOICES, initial=DEFAULT_METHOD, help_text=DEFAULT_METHOD_REASON)
    adapt = forms.ChoiceField(
        label="What to adapt", choices=ADAPT_CHOICES, initial=DEFAULT_ADAPT, required=False,
        help_text="For SharpZO, CMA-ES and ZO-SGD. Sparse adapters also change a small, chosen share of the image "
                  "model's weights (where the loss reacts most), which can learn what the prompt alone cannot; each "
                  "query then also runs part of the image model, so it takes longer.")
    param_budget = FractionChoiceField(
        label="Share of the image model's weights that may change", choices=PARAM_BUDGET_CHOICES, coerce=float,
        empty_value=None, required=False, initial=DEFAULT_PARAM_BUDGET,
        help_text="Sparse adapters only. More weights can fit the data more closely; the adapter file grows by about "
                  "12 bytes per weight changed.")
    shots = forms.IntegerField(help_text="Training images per class; each class also needs 1 validation and 1 test "
                                         "image.")
    seed = forms.IntegerField(help_text="Fixes the split and all random draws: the same seed gives the same run.")
    budget = forms.IntegerField(label="Budget (queries)",
                                help_text="How many loss evaluations the tuner may spend; run time and cost grow with "
                                          "it. The SharpZO paper used 20,000. The least a launch needs depends on "
                                          "its method and dataset (said below);")
    budget_minutes = forms.IntegerField(
        label="Or a time budget (minutes)", required=False, min_value=1, max_value=MAX_BUDGET_MINUTES,
        help_text="Optional. The budget becomes the queries that fit in this much worker time, by the same model "
                  "as the estimate (what workers measured of themselves for this backbone, method and dataset; the "
                  "estimate says on what basis). Methods that spend no queries ignore it.")
    model_line_name = forms.CharField(max_length=120, required=False, label="Adapter model line",
                                      validators=[refuse_control_characters],
                                      help_text="Where the tuned adapter is stored as a new version; default: the "
                                                "dataset name.")
    gpu = forms.BooleanField(required=False, label="Run on a GPU worker",
                             help_text="Only a GPU worker takes the job; CPU workers leave it to them.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        fields = {f.name: f for f in tune_fields()}
        self.fields["dataset_version"].queryset = dataset_versions_ready(user=user).filter(
            dataset__workspace__in=workspaces_writable(user=user))
        self.fields["backbone"].choices = backbone_choices(real_backbones())
        self.fields["backbone"].initial = default_backbone()
        for name in ("shots", "seed", "budget"):
            self.fields[name].initial = fields[name].default
        # shots and budget: the chosen dataset's and method's real bounds are shown beside the help (`bounds`
        # as the page opens, then job_form.js); the tuner's 1 to 1,000 shots and 1 query would promise what
        # they refuse.
        self.fields["seed"].help_text += " " + allowed_range(fields["seed"].metadata)
        self.fields["budget"].help_text += f" at most {fields['budget'].metadata['max']:,}."
        # A first run should take minutes, not hours, on a CPU worker; the estimate shows what more costs.
        self.fields["budget"].initial = FIRST_RUN_BUDGET
        self.advanced_names = [name for name in fields if name not in MAIN_FIELDS + ADAPT_FIELDS]
        for name in self.advanced_names:
            self.fields[name] = _advanced_field(fields[name])
        self._defaults = {name: f.default for name, f in fields.items()}
        self.config: TuneConfig | None = None  # the checked settings, once the form is valid
        if not queue_has_live_worker(job_queue(needs_gpu=True)):
            self.fields["gpu"].help_text = NO_GPU_WORKER_HELP

    @cached_property
    def bounds(self) -> dict:
        """The real bounds of shots and budget for the values the page shows first (webapp/jobs/bounds.py);
        job_form.js asks estimate.json for them again as the values change."""
        shown = {name: str(self[name].value() or "") for name in ("dataset_version", "method", "adapt", "backbone",
                                                                   "shots")}
        versions = self.fields["dataset_version"].queryset
        version = versions.filter(pk=whole_number(shown["dataset_version"])).first() or versions.first()
        return launch_bounds(version=version, method=shown["method"], adapt=shown["adapt"], backbone=shown["backbone"],
                             shots=whole_number(shown["shots"]))

    @property
    def main_fields(self):
        return [self[name] for name in self.fields if name not in self.advanced_names]

    @property
    def advanced_fields(self):
        return [self[name] for name in self.advanced_names]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        config = {name: data[name] for name in MAIN_FIELDS}
        if data.get("budget_minutes") and not self._budget_from_minutes(data, config):
            return data
        if not self._clean_adapt(data, config):
            return data
        for name in self.advanced_names:
            value = data.get(name)
            config[name] = self._defaults[name] if value in (None, "") else value
        try:
            self.config = tune_config_from(config, len(data["dataset_version"].class_counts or {}) or None)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(None if field == "__all__" else field, messages)
            return data
        problem = dataset_version_check_shots(data["dataset_version"], self.config.shots)
        if problem:
            self.add_error("shots", problem)
        return data

    def _budget_from_minutes(self, data: dict, config: dict) -> bool:
        """Replaces the budget by the queries that fit in `budget_minutes` of worker time; False, with an
        error on the field, when none fit. Runs before _clean_adapt, so it reads adapt as posted."""
        if data["method"] in NO_QUERY_METHODS:
            return True
        minutes, counts = data["budget_minutes"], data["dataset_version"].class_counts or {}
        adapt = data.get("adapt") if data["method"] in SPARSE_METHODS else "prompt"
        workload = workload_of(method=data["method"], queries=0, num_classes=len(counts),
                               num_images=sum(counts.values()), adapt=adapt or "prompt", shots=data["shots"] or 0,
                               param_budget=data.get("param_budget") or 0.0, backbone=data["backbone"],
                               dataset_version_id=data["dataset_version"].pk, class_names=list(counts))
        try:
            config["budget"] = queries_for_minutes(minutes, backbone=data["backbone"], workload=workload)
        except ValueError as exc:
            self.add_error("budget_minutes", str(exc))
            return False
        return True

    def _clean_adapt(self, data: dict, config: dict) -> bool:
        """Puts adapt and param_budget into `config`; False, with an error on the field, for a combination
        the tuner cannot run. The budget of weights counts only for sparse adapters."""
        adapt = "prompt" if data["method"] == Method.AUTO else data.get("adapt") or "prompt"  # auto decides itself
        config["adapt"] = adapt
        config["param_budget"] = data["param_budget"] if adapt == "sparse" and data.get("param_budget") is not None \
            else self._defaults["param_budget"]
        if adapt != "sparse":
            return True
        if data["method"] not in SPARSE_METHODS:
            label = method_label(data["method"])
            self.add_error("adapt", f"Sparse adapters are tuned with queries by SharpZO, CMA-ES or ZO-SGD; "
                                    f"{label} cannot use them. Choose \"Prompt only\" or one of those methods.")
            return False
        if data.get("tip_cache"):
            self.add_error("adapt", "The Tip-Adapter cache (advanced setting tip_cache) works on prompts only: "
                                    "choose \"Prompt only\" or switch the cache off.")
            return False
        return True
