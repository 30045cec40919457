"""How much memory generating N people takes, checked against what the machine has before any work starts.

The generator builds every table in an in-memory DuckDB, so its peak resident memory grows with the people
asked for. Measured (peak RSS of `generate` into a DuckDB file, 2 cores): 50,000 people 0.55 GB, 200,000
1.7 GB, 800,000 6.0 GB, i.e. about 7.2 KB a person above a fixed ~0.2 GB. The estimate rounds both up."""

from __future__ import annotations

from pathlib import Path

from reverse_etl.errors import ConfigError

BASE_BYTES = 200 * 10**6
BYTES_PER_PERSON = 7_500
MEMINFO = Path("/proc/meminfo")


def estimated_bytes(people: int) -> int:
    """Peak memory of generating `people` people."""
    return BASE_BYTES + BYTES_PER_PERSON * people


def largest_fitting(available: int) -> int:
    """The most people whose estimate fits in `available` bytes (0 when not even the base fits)."""
    return max(0, (available - BASE_BYTES) // BYTES_PER_PERSON)


def available_bytes(meminfo: Path = MEMINFO) -> int | None:
    """The kernel's estimate of memory available to a new process (MemAvailable), or None where unknown."""
    try:
        for line in meminfo.read_text().splitlines():
            name, _, value = line.partition(":")
            if name == "MemAvailable":
                return int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_fits(people: int, available: int | None) -> None:
    """Refuse, before any work, a size whose estimate is more than the memory available."""
    if available is None:
        return
    needed = estimated_bytes(people)
    if needed > available:
        raise ConfigError(
            f"--people {people:,} needs about {needed / 10**9:.1f} GB of memory to generate, and this machine "
            f"has {available / 10**9:.1f} GB available: use --people {largest_fitting(available):,} or fewer"
        )
