"""Every local fake, by destination name, for tests, benchmarks, the demo and `cdp sandbox`."""

from __future__ import annotations

from collections.abc import Callable

from reverse_etl.sandbox.hubspot import HubSpotFake
from reverse_etl.sandbox.mailchimp import MailchimpFake
from reverse_etl.sandbox.meta import MetaFake
from reverse_etl.sandbox.server import FakeService, Faults
from reverse_etl.sandbox.trade_desk import TradeDeskFake
from reverse_etl.sandbox.webhook import WebhookFake

FAKES: dict[str, Callable[[Faults], FakeService]] = {
    "hubspot": lambda faults: HubSpotFake(faults),
    "mailchimp": lambda faults: MailchimpFake(faults),
    "meta": lambda faults: MetaFake(faults),
    "trade_desk": lambda faults: TradeDeskFake(faults),
    "webhook": lambda faults: WebhookFake(faults),
}
