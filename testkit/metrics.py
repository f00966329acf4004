"""Reading a server's /metrics as a scraper does: the text fetched, parsed by prometheus_client's own parser, and
samples summed by name and labels."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True, slots=True)
class Scrape:
    status: int
    content_type: str
    text: str

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named `name` whose labels include `labels` (0 when there are none)."""
        total = 0.0
        for family in text_string_to_metric_families(self.text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def names(self) -> set[str]:
        """Every series name the scrape declares (its `# TYPE` lines) or carries samples of."""
        found: set[str] = set()
        for family in text_string_to_metric_families(self.text):
            found.add(family.name)
            found.update(sample.name for sample in family.samples)
        for line in self.text.splitlines():
            if line.startswith("# TYPE "):
                found.add(line.split()[2])
        return found


def scrape(url: str, token: str | None = None) -> Scrape:
    """GET `url` (a server's /metrics); an error status is returned, not raised."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Scrape(response.status, response.headers.get("Content-Type", ""), response.read().decode())
    except urllib.error.HTTPError as error:
        return Scrape(error.code, error.headers.get("Content-Type", ""), error.read().decode())


def scrape_until(
    url: str, done: Callable[[Scrape], bool], *, timeout: float = 20.0, token: str | None = None
) -> Scrape:
    """Scrape every 0.2 s until `done(scrape)` or `timeout` seconds; the last scrape either way (the caller
    asserts on it)."""
    deadline = time.monotonic() + timeout
    while True:
        last = scrape(url, token)
        if done(last) or time.monotonic() > deadline:
            return last
        time.sleep(0.2)
