"""Every local fake, by destination name, for tests, benchmarks, the demo and `cdp sandbox`."""

from __future__ import annotations

from collections.abc import Callable

from reverse_etl.sandbox.braze import BrazeFake
from reverse_etl.sandbox.google_ads import GoogleAdsFake
from reverse_etl.sandbox.hubspot import HubSpotFake
from reverse_etl.sandbox.klaviyo import KlaviyoFake
from reverse_etl.sandbox.mailchimp import MailchimpFake
from reverse_etl.sandbox.meta import MetaFake
from reverse_etl.sandbox.salesforce import SalesforceFake
from reverse_etl.sandbox.server import FakeService, Faults
from reverse_etl.sandbox.trade_desk import TradeDeskFake
from reverse_etl.sandbox.webhook import WebhookFake

FAKES: dict[str, Callable[[Faults], FakeService]] = {
    "braze": lambda faults: BrazeFake(faults),
    "google_ads": lambda faults: GoogleAdsFake(faults),
    "hubspot": lambda faults: HubSpotFake(faults),
    "klaviyo": lambda faults: KlaviyoFake(faults),
    "mailchimp": lambda faults: MailchimpFake(faults),
    "meta": lambda faults: MetaFake(faults),
    "salesforce": lambda faults: SalesforceFake(faults),
    "trade_desk": lambda faults: TradeDeskFake(faults),
    "webhook": lambda faults: WebhookFake(faults),
}
