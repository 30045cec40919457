"""The raw tables the generator writes: names, columns and portable types (docs/sources.md)."""

from __future__ import annotations

Columns = list[tuple[str, str]]

RAW_TABLES: dict[str, Columns] = {
    "identifies": [
        ("id", "varchar"),
        ("anonymous_id", "varchar"),
        ("user_id", "varchar"),
        ("email", "varchar"),
        ("phone", "varchar"),
        ("first_name", "varchar"),
        ("last_name", "varchar"),
        ("context_ip", "varchar"),
        ("context_user_agent", "varchar"),
        ("timestamp", "timestamp"),
        ("received_at", "timestamp"),
    ],
    "tracks": [
        ("id", "varchar"),
        ("anonymous_id", "varchar"),
        ("user_id", "varchar"),
        ("event", "varchar"),
        ("event_text", "varchar"),
        ("product_id", "varchar"),
        ("cart_id", "varchar"),
        ("revenue", "double"),
        ("context_ip", "varchar"),
        ("context_user_agent", "varchar"),
        ("timestamp", "timestamp"),
        ("received_at", "timestamp"),
    ],
    "pages": [
        ("id", "varchar"),
        ("anonymous_id", "varchar"),
        ("user_id", "varchar"),
        ("url", "varchar"),
        ("path", "varchar"),
        ("referrer", "varchar"),
        ("title", "varchar"),
        ("context_user_agent", "varchar"),
        ("timestamp", "timestamp"),
        ("received_at", "timestamp"),
    ],
    "app_events": [
        ("event_id", "varchar"),
        ("device_id", "varchar"),
        ("device_type", "varchar"),
        ("user_id", "varchar"),
        ("platform", "varchar"),
        ("event_name", "varchar"),
        ("app_version", "varchar"),
        ("occurred_at", "timestamp"),
        ("received_at", "timestamp"),
    ],
    "crm_contacts": [
        ("contact_id", "varchar"),
        ("email", "varchar"),
        ("phone", "varchar"),
        ("first_name", "varchar"),
        ("last_name", "varchar"),
        ("street", "varchar"),
        ("city", "varchar"),
        ("postal_code", "varchar"),
        ("country", "varchar"),
        ("lifecycle_stage", "varchar"),
        ("created_at", "timestamp"),
        ("updated_at", "timestamp"),
    ],
    "orders": [
        ("order_id", "varchar"),
        ("channel", "varchar"),
        ("user_id", "varchar"),
        ("email", "varchar"),
        ("phone", "varchar"),
        ("loyalty_card_id", "varchar"),
        ("store_id", "varchar"),
        ("status", "varchar"),
        ("currency", "varchar"),
        ("total_amount", "double"),
        ("ordered_at", "timestamp"),
        ("received_at", "timestamp"),
    ],
    "order_items": [
        ("order_item_id", "varchar"),
        ("order_id", "varchar"),
        ("product_id", "varchar"),
        ("product_category", "varchar"),
        ("quantity", "integer"),
        ("unit_price", "double"),
    ],
    "email_events": [
        ("event_id", "varchar"),
        ("email", "varchar"),
        ("event_type", "varchar"),
        ("campaign_id", "varchar"),
        ("url", "varchar"),
        ("occurred_at", "timestamp"),
    ],
    "cookie_syncs": [
        ("sync_id", "varchar"),
        ("partner", "varchar"),
        ("partner_cookie_id", "varchar"),
        ("anonymous_id", "varchar"),
        ("synced_at", "timestamp"),
    ],
    "support_tickets": [
        ("ticket_id", "varchar"),
        ("email", "varchar"),
        ("phone", "varchar"),
        ("channel", "varchar"),
        ("subject", "varchar"),
        ("status", "varchar"),
        ("created_at", "timestamp"),
        ("solved_at", "timestamp"),
    ],
    "consents": [
        ("consent_id", "varchar"),
        ("email", "varchar"),
        ("phone", "varchar"),
        ("user_id", "varchar"),
        ("channel", "varchar"),
        ("status", "varchar"),
        ("source", "varchar"),
        ("recorded_at", "timestamp"),
    ],
    "privacy_requests": [
        ("request_id", "varchar"),
        ("email", "varchar"),
        ("phone", "varchar"),
        ("user_id", "varchar"),
        ("request_type", "varchar"),
        ("requested_at", "timestamp"),
    ],
}

PRIMARY_KEYS: dict[str, str] = {table: columns[0][0] for table, columns in RAW_TABLES.items()}

GROUND_TRUTH_COLUMNS: Columns = [
    ("source_table", "varchar"),
    ("record_id", "varchar"),
    ("person_id", "varchar"),
]

RAW_SCHEMA = "raw"
GROUND_TRUTH_SCHEMA = "ground_truth"
GROUND_TRUTH_TABLE = "record_people"
