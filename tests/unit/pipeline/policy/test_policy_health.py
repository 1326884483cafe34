"""Health screens are generalised; query strings and fragments never survive."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.policy import Policy, load_policy

POLICY = load_policy()


@pytest.mark.parametrize(
    "screen",
    [
        "devis-sante",
        "frais_de_santé",
        "remboursements/soins",
        "remboursementsSoins",
        "mes-remboursements",
        "reimbursements",
        "health-quote",
        "myHealth",
        "MedicalSearch",
        "recherche-medecin",
        "find_a_doctor",
        "practitioner-search",
        "pharmacie-de-garde",
        "Hôpital/recherche",
        "hospitalisation",
        "/espace/teleconsultation",
        "soins-dentaires",
        "dental-care",
        "optique/lunettes",
        "audioprothese",
        "psychologue",
        "arret-de-travail",
        "maternite",
        "SANTE",
    ],
)
def test_health_screens_are_generalised(screen: str) -> None:
    assert POLICY.health_screen(screen) == "health"


@pytest.mark.parametrize(
    "screen",
    [
        "home",
        "contracts",
        "besoins",
        "careers",
        "retraite",
        "login",
        "profile",
        "documents",
        "optional-settings",
        "customer-care",
        "adhesion",
        "cotisations",
    ],
)
def test_other_screens_are_kept(screen: str) -> None:
    assert POLICY.health_screen(screen) == screen


@pytest.mark.parametrize(
    ("screen", "expected"),
    [
        ("contracts?id=123&user=42", "contracts"),
        ("contracts#section-2", "contracts"),
        ("contracts?x=1#y", "contracts"),
        ("search?q=dentiste", "search"),  # the query is dropped, not inspected
        ("/espace-client/documents?token=abc", "/espace-client/documents"),
        ("devis-sante?ref=mail", "health"),
        ("?only=query", ""),
    ],
)
def test_query_strings_and_fragments_are_stripped(screen: str, expected: str) -> None:
    assert POLICY.health_screen(screen) == expected


@given(st.text(max_size=80), st.text(max_size=40))
def test_no_query_string_ever_survives(screen: str, query: str) -> None:
    out = POLICY.health_screen(f"{screen}?{query}")
    assert "?" not in out
    assert "#" not in out


def test_generalised_name_and_patterns_come_from_the_file(tmp_path: Path) -> None:
    text = resources.files("pipeline.policy").joinpath("default.toml").read_text("utf-8")
    text = text.replace('screen = "health"', 'screen = "sante-generique"')
    text = text.replace("patterns = [\n", "patterns = [\n    'secret-screen',\n")
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    policy: Policy = load_policy(path)
    assert policy.health_screen("a/secret-screen/b") == "sante-generique"
    assert policy.health_screen("devis-sante") == "sante-generique"
    assert policy.health_screen("contracts") == "contracts"


def test_the_screen_cache_never_keeps_a_query_string_or_fragment() -> None:
    policy = load_policy()
    first = policy.health_screen("devis-sante?email=jane%40example.org#ref-42")
    again = policy.health_screen("devis-sante?email=john%40example.org")
    assert first == again == policy.health_screen_name
    assert policy.health_screen("accueil?session=abc") == "accueil"
    assert set(policy._screens) == {"devis-sante", "accueil"}
