{#- How this build changes the links: per link, the records it gains minus the records it loses (from the
    records whose ranked identifiers change, int_identity_anchor_changes). Links whose record count does not
    move are left out. Empty in a full build. -#}
with

record_links as (
{{ cdp.identity_record_links(ref('int_identity_anchor_changes'), ['change']) }}

)

select
    node_a,
    node_b,
    node_a_type,
    node_b_type,
    cut_priority,
    sum(case when change = 'new' then 1 else -1 end) as records_delta
from record_links
group by node_a, node_b, node_a_type, node_b_type, cut_priority
having sum(case when change = 'new' then 1 else -1 end) <> 0
