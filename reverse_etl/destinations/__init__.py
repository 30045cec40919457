"""Destinations, registered by name in one explicit dict: add a module, then one line here."""

from __future__ import annotations

from reverse_etl.destinations.base import Destination
from reverse_etl.destinations.google_ads import GoogleAdsDestination
from reverse_etl.destinations.hubspot import HubSpotDestination
from reverse_etl.destinations.mailchimp import MailchimpDestination
from reverse_etl.destinations.webhook import WebhookDestination

REGISTRY: dict[str, type[Destination]] = {
    "google_ads": GoogleAdsDestination,
    "hubspot": HubSpotDestination,
    "mailchimp": MailchimpDestination,
    "webhook": WebhookDestination,
}
