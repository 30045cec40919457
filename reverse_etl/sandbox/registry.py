"""Every local fake, by destination name, for tests, benchmarks, the demo and `cdp sandbox`."""

from __future__ import annotations

from collections.abc import Callable

from reverse_etl.sandbox.google_ads import GoogleAdsFake
from reverse_etl.sandbox.hubspot import HubSpotFake
from reverse_etl.sandbox.mailchimp import MailchimpFake
from reverse_etl.sandbox.server import FakeService, Faults
from reverse_etl.sandbox.webhook import WebhookFake

FAKES: dict[str, Callable[[Faults], FakeService]] = {
    "google_ads": lambda faults: GoogleAdsFake(faults),
    "hubspot": lambda faults: HubSpotFake(faults),
    "mailchimp": lambda faults: MailchimpFake(faults),
    "webhook": lambda faults: WebhookFake(faults),
}
