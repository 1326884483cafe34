"""Fetch the Apache Kafka server jars from Maven Central once, into a versioned cache.

The class path is whatever ``mvn dependency:copy-dependencies`` resolves from the pom shipped
in this package. A marker file listing the jars is written last, so an interrupted fetch is
simply redone.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from pipeline.broker.exceptions import JarFetchFailed
from pipeline.errors import ToolMissing
from pipeline.settings import Settings

KAFKA_VERSION = "4.1.1"
_MARKER = "libs.complete"
_FETCH_TIMEOUT_S = 900.0


def libs_dir(settings: Settings) -> Path:
    """Directory holding the Kafka jars of :data:`KAFKA_VERSION`."""
    return settings.kafka_cache.resolve() / KAFKA_VERSION / "libs"


def class_path(settings: Settings) -> str:
    """The JVM class path (``libs/*``, expanded by java itself)."""
    return str(libs_dir(settings) / "*")


def jars_complete(settings: Settings) -> bool:
    """Whether the cache holds every jar listed in its marker file."""
    libs = libs_dir(settings)
    marker = libs.parent / _MARKER
    if not marker.is_file():
        return False
    names = [n for n in marker.read_text(encoding="utf-8").splitlines() if n]
    return bool(names) and all((libs / n).is_file() for n in names)


def require_tool(name: str, hint: str) -> str:
    """Return the path of executable ``name``.

    Raises:
        ToolMissing: ``name`` is not on PATH; the message says how to install it.
    """
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(f"{name} not found on PATH: {hint}")
    return path


def fetch_jars(
    settings: Settings, notify: Callable[[str], None] | None = None
) -> tuple[Path, bool]:
    """Make sure the Kafka jars are in the cache; fetch them with Maven if not.

    Args:
        settings: gives the cache directory.
        notify: called with a progress sentence just before a (slow) fetch starts.

    Returns:
        The libs directory, and whether a fetch happened (False: cache hit).

    Raises:
        ToolMissing: mvn is not installed.
        JarFetchFailed: Maven failed; the message carries its last error line.
    """
    libs = libs_dir(settings)
    if jars_complete(settings):
        return libs, False
    mvn = require_tool("mvn", "install Apache Maven 3.6+ (e.g. apt-get install maven)")
    if notify is not None:
        notify(f"fetching Apache Kafka {KAFKA_VERSION} jars with Maven into {libs} (once)…")
    libs.parent.mkdir(parents=True, exist_ok=True)
    # Fetch into a scratch dir next to the cache, then swap it in: never a half-filled libs/.
    with tempfile.TemporaryDirectory(dir=libs.parent, prefix="fetch-") as scratch:
        staging = Path(scratch) / "libs"
        _run_maven(mvn, staging, Path(scratch))
        jars = sorted(p.name for p in staging.glob("*.jar"))
        if not any(n.startswith("kafka_2.13-") for n in jars):
            raise JarFetchFailed(f"Maven fetched no kafka_2.13 jar into {staging}; retry")
        if libs.exists():
            shutil.rmtree(libs)
        staging.rename(libs)
    (libs.parent / _MARKER).write_text("\n".join(jars) + "\n", encoding="utf-8")
    return libs, True


def _run_maven(mvn: str, output: Path, workdir: Path) -> None:
    pom = workdir / "pom.xml"
    pom.write_bytes(resources.files("pipeline.broker").joinpath("pom.xml").read_bytes())
    cmd = [
        mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={output}",
    ]  # fmt: skip
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            cmd, cwd=workdir, capture_output=True, text=True, timeout=_FETCH_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise JarFetchFailed(
            f"Maven did not finish within {_FETCH_TIMEOUT_S:.0f} s; check network access "
            "to Maven Central and retry"
        ) from None
    if done.returncode != 0:
        raise JarFetchFailed(f"mvn failed: {_last_error(done.stdout + done.stderr)}")


def _last_error(output: str) -> str:
    """The most telling line of Maven's output (its first ``[ERROR]`` line)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("[ERROR]")]
    line = errors[0] if errors else (lines[-1] if lines else "no output")
    return line.removeprefix("[ERROR]").strip()[:300] + "; check network access and retry"
