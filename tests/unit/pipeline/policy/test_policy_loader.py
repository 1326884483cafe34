"""Loading validates the whole file and names every mistake with its location."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from pipeline.errors import ConfigError, PipelineError
from pipeline.policy import PolicyError, load_policy

DEFAULT = resources.files("pipeline.policy").joinpath("default.toml").read_text("utf-8")

NEWSLETTER = """
[purposes.newsletter]
label = "prospection"
basis = "consent"
consent_required = true
retention_days = 90
epoch = "week"
streams = ["navigation"]
gpc_denies = true
objectable = false

[purposes.newsletter.fields]
user_id = "pseudonymise"
device_id = "drop"
session_id = "drop"
ip = "drop"
lat = "drop"
lon = "drop"
coords = "drop"

[purposes.newsletter.register]
recipients = ["service marketing"]
transfers_outside_eu = "aucun"
automated_decisions = "aucune"
"""


def variant(tmp_path: Path, *edits: tuple[str, str], append: str = "") -> Path:
    """Write the default policy with each ``(old, new)`` edit applied to its one occurrence."""
    text = DEFAULT
    for old, new in edits:
        assert text.count(old) == 1, f"edit target not unique: {old!r}"
        text = text.replace(old, new)
    path = tmp_path / "policy.toml"
    path.write_text(text + append, encoding="utf-8")
    return path


def problems_of(path: Path) -> tuple[str, ...]:
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    error = caught.value
    assert "\n" not in str(error)
    assert str(error).startswith(f"{path}: ")
    return error.problems


FRAUD_IP = 'ip = "encrypt"\nlat = "coarsen"                 # cell only'
AD_RETENTION = 'retention_days = 395            # seed § 10.1, 13 months\nepoch = "month"\nstreams = ["navigation"]\ngpc_denies = true'  # noqa: E501


def test_policy_error_is_a_config_error() -> None:
    assert issubclass(PolicyError, ConfigError)
    assert issubclass(PolicyError, PipelineError)


def test_unknown_purpose_in_tcf_table_is_named(tmp_path: Path) -> None:
    path = variant(tmp_path, ('2 = ["advertising"]', '2 = ["ads"]'))
    assert problems_of(path) == (
        "tcf.purposes.2: unknown purpose 'ads'; define it under [purposes.ads]",
    )


def test_extra_purpose_fully_specified_is_allowed(tmp_path: Path) -> None:
    policy = load_policy(variant(tmp_path, append=NEWSLETTER))
    assert policy.is_known("newsletter")
    newsletter = policy.purposes["newsletter"]
    assert newsletter.epoch == "week"
    assert newsletter.fields["screen"] == "drop"  # unnamed non-identifier fields are dropped
    assert {s for s in policy.purposes} >= {"newsletter", "advertising"}


def test_extra_purpose_partially_specified_lists_what_is_missing(tmp_path: Path) -> None:
    partial = NEWSLETTER.replace('epoch = "week"\n', "").replace('ip = "drop"\n', "")
    problems = problems_of(variant(tmp_path, append=partial))
    assert "purposes.newsletter.epoch: missing" in problems
    assert any(p.startswith("purposes.newsletter.fields.ip: missing; identifier") for p in problems)
    assert len(problems) == 2


def test_unknown_field_is_named(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        (
            'accuracy_m = "drop"\n\n[purposes.audience_measurement.register]',
            'accuracy_m = "drop"\nshoe_size = "drop"\n\n[purposes.audience_measurement.register]',
        ),
    )
    (problem,) = problems_of(path)
    assert problem.startswith("purposes.audience_measurement.fields.shoe_size: unknown field;")


def test_missing_identifier_treatment_is_named(tmp_path: Path) -> None:
    path = variant(tmp_path, (FRAUD_IP, 'lat = "coarsen"                 # cell only'))
    assert problems_of(path) == (
        "purposes.fraud_prevention.fields.ip: missing; identifier fields need an explicit "
        "treatment: one of drop, pseudonymise, encrypt",
    )


@pytest.mark.parametrize("value", ["0", "-30", '"13 months"', "1.5", "true"])
def test_non_positive_retention_is_named(tmp_path: Path, value: str) -> None:
    path = variant(tmp_path, (AD_RETENTION, AD_RETENTION.replace("395", value, 1)))
    (problem,) = problems_of(path)
    assert problem.startswith("purposes.advertising.retention_days: must be a positive integer")


def test_unknown_treatment_name_is_named(tmp_path: Path) -> None:
    path = variant(
        tmp_path, ('screen = "keep"                 # query string', 'screen = "blur" #')
    )
    assert problems_of(path) == (
        "purposes.audience_measurement.fields.screen: unknown treatment 'blur'; "
        "screen takes one of drop, keep",
    )


def test_identifier_can_never_be_kept(tmp_path: Path) -> None:
    path = variant(
        tmp_path, ('user_id = "pseudonymise"        # distinct visitors only', 'user_id = "keep"')
    )
    assert problems_of(path) == (
        "purposes.audience_measurement.fields.user_id: 'keep' is not allowed for user_id; "
        "use one of drop, pseudonymise, encrypt",
    )


def test_bad_regex_is_named(tmp_path: Path) -> None:
    path = variant(tmp_path, ("patterns = [\n", "patterns = [\n    '(unclosed',\n"))
    (problem,) = problems_of(path)
    assert problem.startswith("health.patterns[0]: invalid regular expression: missing )")


def test_missing_design_purpose_is_named(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        ("[purposes.geolocation]\n", "[purposes.geo]\n"),
        ("[purposes.geolocation.fields]", "[purposes.geo.fields]"),
        ("[purposes.geolocation.register]", "[purposes.geo.register]"),
        ('1 = ["geolocation"]             # Use precise', '1 = ["geo"]  # Use precise'),
    )
    assert problems_of(path) == (
        "purposes.geolocation: missing; DESIGN.md section 5 requires this purpose in every policy",
    )


def test_special_feature_table_is_checked(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        ('2 = []                          # Actively', '3 = ["geo"]  # Actively'),
    )
    assert problems_of(path) == (
        "tcf.special_features.3: unknown TCF special feature; TCF v2.2 special features are "
        "numbered 1 to 2",
        "tcf.special_features.3: unknown purpose 'geo'; define it under [purposes.geo]",
    )


def test_tcf_reading_rules_are_enumerations(tmp_path: Path) -> None:
    path = variant(tmp_path, ('publisher_tc = "both"', 'publisher_tc = "either"'))
    assert len(problems_of(path)) == 1
    assert "tcf.publisher_tc" in problems_of(path)[0]


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = variant(tmp_path, ("k_threshold = 5", "k_threshold = = 5"))
    line = DEFAULT.splitlines().index("k_threshold = 5") + 1
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: invalid TOML: ")
    assert f"line {line}," in message


def test_several_mistakes_are_all_listed(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        (AD_RETENTION, AD_RETENTION.replace("395", "0", 1)),
        ('2 = ["advertising"]', '2 = ["ads"]'),
        (FRAUD_IP, 'lat = "coarsen"                 # cell only'),
        ("k_threshold = 5", "k_treshold = 5"),
    )
    problems = problems_of(path)
    assert set(problems) == {
        "k_threshold: missing",
        "k_treshold: unknown key; expected one of k_threshold, geohash_precision, "
        "anonymous_counting, lateness_days, future_minutes, grace_seconds, grace_max_events, "
        "health, consent_ledger, purposes, tcf, publication, erasure",
        "purposes.advertising.retention_days: must be a positive integer (got 0)",
        "purposes.fraud_prevention.fields.ip: missing; identifier fields need an explicit "
        "treatment: one of drop, pseudonymise, encrypt",
        "tcf.purposes.2: unknown purpose 'ads'; define it under [purposes.ads]",
    }
    assert len(problems) == 5


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("consent_required = false\n", "consent_required = true\n"),
            "purposes.fraud_prevention.consent_required: must be false for basis "
            "'legitimate_interest'",
        ),
        (
            ('basis = "explicit_consent"', 'basis = "consent"'),
            "purposes.geolocation.basis: location is sensitive",
        ),
        (
            (
                "gpc_denies = true               # DESIGN section 4: GPC means deny advertising "
                "and sale/sharing\nobjectable = false",
                "gpc_denies = true\nobjectable = true",
            ),
            "purposes.advertising.objectable: only legitimate-interest purposes can be objected",
        ),
        (
            ('lon = "coarsen"\ncoords = "encrypt"', 'lon = "drop"\ncoords = "encrypt"'),
            "purposes.geolocation.fields.lon: lat and lon must have the same treatment",
        ),
        (
            ("retention_days = 1826", "retention_days = 30"),
            "consent_ledger.retention_days: proof of consent must outlive the data: at least 395",
        ),
        (
            ("11 = []", '12 = ["advertising"]'),
            "tcf.purposes.12: unknown TCF purpose; TCF v2.2 purposes are numbered 1 to 11",
        ),
        (
            ("10 = []", '10 = ["fraud_prevention"]'),
            "tcf.purposes.10: purpose 'fraud_prevention' does not rest on consent",
        ),
        (
            ("geohash_precision = 5", "geohash_precision = 9"),
            "geohash_precision: must be an integer from 1 to 6 (got 9)",
        ),
        (
            ("k_threshold = 5", "k_threshold = 1"),
            "k_threshold: must be an integer ≥ 2 (got 1)",
        ),
        (
            ('streams = ["navigation", "geolocation"]', 'streams = ["navigation", "navigation"]'),
            "purposes.fraud_prevention.streams: lists the same entry twice",
        ),
        (
            ('streams = ["navigation", "geolocation"]', 'streams = ["clicks"]'),
            "purposes.fraud_prevention.streams[0]: 'clicks' is not allowed; "
            "use one of navigation, geolocation",
        ),
        (
            ('epoch = "month"\nretention_days = 1826', 'epoch = "year"\nretention_days = 1826'),
            "consent_ledger.epoch: 'year' is not allowed; use one of month, week, day",
        ),
        (
            ("anonymous_counting = false", 'anonymous_counting = "no"'),
            "anonymous_counting: must be true or false (got 'no')",
        ),
        (
            ("[purposes.advertising]\n", "[purposes.consent_ledger]\n"),
            "purposes.consent_ledger: 'consent_ledger' is reserved",
        ),
    ],
)
def test_cross_entry_rules_name_their_mistake(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    problems = problems_of(variant(tmp_path, edit))
    assert any(p.startswith(expected) for p in problems), problems


def test_missing_file_says_which_variable_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value) == (
        f"{path}: file not found; set PRIVACY_PIPELINE_POLICY to an existing file or unset it"
    )


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(DEFAULT.encode("latin-1", errors="replace"))
    with pytest.raises(PolicyError, match="not UTF-8 text"):
        load_policy(path)
