"""Destinations, registered by name in one explicit dict: add a module, then one line here."""

from __future__ import annotations

from reverse_etl.destinations.base import Destination
from reverse_etl.destinations.braze import BrazeDestination
from reverse_etl.destinations.google_ads import GoogleAdsDestination
from reverse_etl.destinations.hubspot import HubSpotDestination
from reverse_etl.destinations.klaviyo import KlaviyoDestination
from reverse_etl.destinations.mailchimp import MailchimpDestination
from reverse_etl.destinations.meta import MetaCustomAudienceDestination
from reverse_etl.destinations.profile_store import ProfileStoreDestination
from reverse_etl.destinations.salesforce import SalesforceDestination
from reverse_etl.destinations.trade_desk import TradeDeskDestination
from reverse_etl.destinations.webhook import WebhookDestination

REGISTRY: dict[str, type[Destination]] = {
    "braze": BrazeDestination,
    "google_ads": GoogleAdsDestination,
    "hubspot": HubSpotDestination,
    "klaviyo": KlaviyoDestination,
    "mailchimp": MailchimpDestination,
    "meta": MetaCustomAudienceDestination,
    "profile_store": ProfileStoreDestination,
    "salesforce": SalesforceDestination,
    "trade_desk": TradeDeskDestination,
    "webhook": WebhookDestination,
}
