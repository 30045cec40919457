{{ config(materialized='table', post_hook=["{{ cdp.identity_log_changes() }}", "{{ cdp.drop_staged_ctes() }}"]) }}
-- depends_on: {{ ref('int_identifiers_unioned') }}
{#- What this build changes, record by record, validated. A record changed when its identifier rows differ
    from those int_identifiers_validated holds (new, updated in place, emptied), when it left its source, or
    when it carries a value suppressed since the previous build. Rows: change = 'new' (the record's rows
    now, validated) and 'old' (the rows held so far), both for every changed record; 'mark' (one per source:
    its high-water mark, row count, rows at the mark and the checksum of the record ids below it, read before
    the changes) and 'mode' (source_table
    holds the build's mode, identifier_value the identity configuration's fingerprint), which the post-hook
    logs in identity_build_log. A full build (see identity_build_plan) holds no record rows: nothing is compared
    with a previous state, and int_identifiers_validated validates every row itself. Sources
    with a changed_at column are read from the previous build's high-water mark on. When a source has the
    same records below that mark as it had then (none of them updated, deleted or loaded late), the only
    records read that were held before are those held with a changed_at at or after the mark
    (int_identifiers_validated keeps it): only those rows are read back, and one of those records not read
    again was deleted. Otherwise the records read are looked up in int_identifiers_validated, and a source
    whose row count is not the previous count plus its new records is searched for deleted records; a
    source whose records below the mark changed otherwise than by updates moving them past it (a record
    loaded late with an old change time, one deleted) also has its records not held yet read. -#}
{#- The junk values of seeds/identifier_blocklist.csv join the rules here, where values are validated. -#}
{%- set identity = cdp.identity_with_blocklist_seed(cdp.identity_config()) -%}
{%- for source in identity.sources %}
-- depends_on: {{ ref(source.model) }}
{%- endfor %}
{%- set plan = cdp.identity_build_plan(identity) -%}
{%- set validated = cdp.existing_relation('intermediate', 'int_identifiers_validated') -%}
{%- set suppressions = cdp.previous_privacy_suppressions() -%}
{#- Suppressions added since the previous build started (earlier ones are applied already). -#}
{%- set new_suppressions = none -%}
{%- if plan.mode == 'incremental' and suppressions is not none -%}
    {%- set new_suppressions = "(select identifier_type, identifier_value from " ~ suppressions ~ " where suppressed_at >= cast('"
        ~ plan.previous_started ~ "' as " ~ dbt.type_timestamp() ~ ")) as suppression" -%}
    {%- if run_query("select count(*) from " ~ new_suppressions).columns[0].values()[0] == 0 -%}
        {%- set new_suppressions = none -%}
    {%- endif -%}
{%- endif -%}
{%- set row_columns = 'source_table, record_id, identifier_type, identifier_value_raw, observed_at, identifier_value, exclusion_reason, suppressing_request_id, changed_at' %}
{#- The CTEs, in order (cdp.cte); on Spark those an incremental build reads more than once are computed first
    (cdp.with_ctes, macros/cross_db/staged_ctes.sql). -#}
{%- set ctes = [] -%}
{%- set staged = [] -%}

{% if plan.mode == 'incremental' -%}
{%- do staged.extend(['held_recent_rows', 'read_rows', 'read_keys', 'deleted_keys', 'held_rows', 'suppressed_keys', 'changed_keys', 'changed_rows']) -%}
{#- Per source: the rows to read (from the previous high-water mark on, when the source has changed_at), and
    whether to search it for deleted records: yes when it is read in full, or when its row count is not the
    previous count plus the keys read that int_identifiers_validated does not hold yet. -#}
{%- set since_of = {} -%}
{%- do since_of.update(plan.since) -%}
{#- Per source read from its mark, the record ids below the mark now, against those then (key_checksum):
    - the same ids, as many rows as then: the source is bounded, only the rows held at or after the mark are
      read back;
    - otherwise, the ids now below the mark plus the held ones read again (updated in place, their change time
      moved past the mark) must be the ids then; when they are not, records were loaded late with an old
      change time (an event delivered late, a change time that is not a load time) or deleted below the mark:
      the source is disturbed, its records not held are read too and it is searched for deleted records.
    A source is read as `source_record` wherever these conditions apply (a record id column may be named
    record_id, as int_identifiers_validated's is). -#}
{%- set bounded = [] -%}
{%- set disturbed = [] -%}
{%- if since_of and execute -%}
    {%- set below_now = {} -%}
    {%- for model in since_of -%}
        {%- set previous, now = plan.sources[model], plan.current[model] -%}
        {%- do below_now.update({model: now.below_previous_keysum | int}) -%}
        {%- if previous.below_keysum is not none and (now.below_previous_keysum | int) == (previous.below_keysum | int) and previous.boundary_rows is not none
            and now.rows - (now.read_rows | int) == previous.rows - (previous.boundary_rows | int) -%}
            {%- do bounded.append(model) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set moved = [] -%}
    {%- for source in identity.sources if source.model in since_of and source.model not in bounded -%}
        {%- set mark = "cast('" ~ plan.sources[source.model].watermark ~ "' as " ~ dbt.type_timestamp() ~ ")" -%}
        {%- do moved.append("select '" ~ source.model ~ "', " ~ cdp.key_checksum('held.record_id') ~ " from (select distinct record_id from "
            ~ validated ~ " where source_table = '" ~ source.model ~ "' and not coalesce(changed_at >= " ~ mark ~ ", false)) as held"
            ~ " where exists (select 1 from " ~ ref(source.model) ~ " as present where " ~ since_of[source.model]
            ~ " and " ~ cdp.identity_record_key(source, 'present') ~ " = held.record_id)") -%}
    {%- endfor -%}
    {%- if moved -%}
        {%- for row in run_query(moved | join(' union all ')).rows -%}
            {%- set previous = plan.sources[row[0]] -%}
            {%- if previous.below_keysum is none or below_now[row[0]] + (row[1] | int) != (previous.below_keysum | int) -%}
                {%- do disturbed.append(row[0]) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for model in disturbed -%}
        {%- set source = identity.sources | selectattr('model', 'equalto', model) | first -%}
        {%- do since_of.update({model: "(" ~ since_of[model] ~ " or not exists (select 1 from " ~ validated ~ " as held_record"
            ~ " where held_record.source_table = '" ~ model ~ "' and held_record.record_id = " ~ cdp.identity_record_key(source, 'source_record') ~ "))"}) -%}
    {%- endfor -%}
{%- endif -%}
{%- set unseen = {} -%}
{%- if since_of and execute and (since_of.keys() | reject('in', bounded) | list) -%}
    {%- set read_keys -%}
        {%- for source in identity.sources if source.model in since_of and source.model not in bounded -%}
        select distinct '{{ source.model }}' as source_table, {{ cdp.identity_record_key(source) }} as record_id
        from {{ ref(source.model) }} as source_record where {{ since_of[source.model] }}
        {% if not loop.last %}union all {% endif %}
        {%- endfor -%}
    {%- endset -%}
    {%- for row in run_query("select read_key.source_table, count(*) from (" ~ read_keys ~ ") as read_key where not exists (select 1 from "
        ~ validated ~ " as held where held.source_table = read_key.source_table and held.record_id = read_key.record_id) group by read_key.source_table").rows -%}
        {%- do unseen.update({row[0]: row[1] | int}) -%}
    {%- endfor -%}
{%- endif -%}
{%- set searched = [] -%}
{%- set unbounded = identity.sources | map(attribute='model') | reject('in', bounded) | list -%}
{%- set bounded_marks = [] -%}
{%- for model in bounded -%}{%- do bounded_marks.append(plan.sources[model].watermark) -%}{%- endfor %}
{#- The rows the bounded sources held at or after their previous mark: the only records of theirs read again
    that were held before (changed_at is kept with every held row). -#}
{% call cdp.cte(ctes, 'held_recent_rows') %}
    select held.*
    from {{ validated }} as held
    {%- if bounded %}
    where
        held.changed_at >= cast('{{ bounded_marks | min }}' as {{ dbt.type_timestamp() }})
        and (
            {%- for model in bounded %}
            (held.source_table = '{{ model }}' and held.changed_at >= cast('{{ plan.sources[model].watermark }}' as {{ dbt.type_timestamp() }}))
            {%- if not loop.last %} or{% endif %}
            {%- endfor %}
        )
    {%- else %}
    where 1 = 0
    {%- endif %}

{% endcall %}
{%- for source in identity.sources %}
{%- set previous = plan.sources.get(source.model) -%}
{%- set since = since_of.get(source.model) -%}
{% call cdp.cte(ctes, source.model ~ '_rows') %}
{{ cdp.identity_source_rows(source, since) }}

{% endcall %}

{% call cdp.cte(ctes, source.model ~ '_keys') %}

    select distinct
        '{{ source.model }}' as source_table,
        {{ cdp.identity_record_key(source) }} as record_id
    from {{ ref(source.model) }} as source_record
    {%- if since %}
    where {{ since }}
    {%- endif %}

{% endcall %}

{%- set is_bounded = source.model in bounded -%}
{%- set search_deleted = not is_bounded and (since is none or source.model in disturbed
    or (execute and plan.current[source.model].rows != previous.rows + unseen.get(source.model, 0))) -%}
{%- if search_deleted -%}{%- do searched.append(source.model) -%}{%- endif %}

{% call cdp.cte(ctes, source.model ~ '_deleted') %}

    {%- if is_bounded %}
    -- A record held at or after the mark and not read again is gone (a record at or after the mark is always
    -- read).
    select distinct held.source_table, held.record_id
    from held_recent_rows as held
    where
        held.source_table = '{{ source.model }}'
        and not exists (
            select 1 from {{ source.model }}_keys
            where {{ source.model }}_keys.record_id = held.record_id
        )
    {%- elif search_deleted %}
    select distinct held.source_table, held.record_id
    from {{ validated }} as held
    where
        held.source_table = '{{ source.model }}'
        and not exists (
            select 1 from {{ ref(source.model) }} as present
            where {{ cdp.identity_record_key(source, 'present') }} = held.record_id
        )
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as source_table,
        cast(null as {{ dbt.type_string() }}) as record_id
    where 1 = 0
    {%- endif %}

{% endcall %}
{% endfor %}

{#- Every source's rows read, keys read and keys deleted, each in one relation. -#}
{%- for name, part in [('read_rows', 'rows'), ('read_keys', 'keys'), ('deleted_keys', 'deleted')] %}
{% call cdp.cte(ctes, name) %}
    {%- for source in identity.sources %}

    select * from {{ source.model }}_{{ part }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

{% endcall %}
{% endfor %}

{#- The rows held for the records read: looked up in int_identifiers_validated, or for the bounded sources
    those held at or after the mark. -#}
{% call cdp.cte(ctes, 'held_rows') %}    {%- if unbounded %}

    select held.*
    from {{ validated }} as held
    where
        {%- if bounded %}
        held.source_table in ('{{ unbounded | join("', '") }}') and
        {%- endif %}
        exists (
            select 1 from read_keys
            where read_keys.source_table = held.source_table and read_keys.record_id = held.record_id
        )
    union all
    {%- endif %}
    select * from held_recent_rows

{% endcall %}

{#- A record's rows compared as a multiset (a value may sit in two columns of one record), with their changed_at:
    a record whose changed_at moved is written again even with the same identifiers, so the changed_at held is
    always the one it was read with. -#}
{%- for name, rows in [('read_counts', 'read_rows'), ('held_counts', 'held_rows')] %}
{% call cdp.cte(ctes, name) %}
    select
        source_table,
        record_id,
        identifier_type,
        identifier_value_raw,
        coalesce(observed_at, cast('1900-01-01' as {{ dbt.type_timestamp() }})) as observed_key,
        coalesce(changed_at, cast('1900-01-01' as {{ dbt.type_timestamp() }})) as changed_key,
        count(*) as copies
    from {{ rows }}
    group by 1, 2, 3, 4, 5, 6

{% endcall %}
{% endfor %}

{% call cdp.cte(ctes, 'differing_keys') %}

    select distinct
        coalesce(read_counts.source_table, held_counts.source_table) as source_table,
        coalesce(read_counts.record_id, held_counts.record_id) as record_id
    from read_counts
    full outer join held_counts
        on
            held_counts.source_table = read_counts.source_table
            and held_counts.record_id = read_counts.record_id
            and held_counts.identifier_type = read_counts.identifier_type
            and held_counts.identifier_value_raw = read_counts.identifier_value_raw
            and held_counts.observed_key = read_counts.observed_key
            and held_counts.changed_key = read_counts.changed_key
    where read_counts.copies is null or held_counts.copies is null or read_counts.copies <> held_counts.copies

{% endcall %}

{#- Usable values suppressed since they were validated: every record carrying one is validated again. -#}
{% call cdp.cte(ctes, 'suppressed_keys') %}
    {%- if new_suppressions %}
    select distinct held.source_table, held.record_id
    from {{ validated }} as held
    inner join {{ new_suppressions }}
        on suppression.identifier_type = held.identifier_type and suppression.identifier_value = held.identifier_value
    where held.exclusion_reason is null
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as source_table,
        cast(null as {{ dbt.type_string() }}) as record_id
    where 1 = 0
    {%- endif %}

{% endcall %}

{% call cdp.cte(ctes, 'changed_keys') %}

    select source_table, record_id from differing_keys
    union
    select source_table, record_id from deleted_keys
    union
    select source_table, record_id from suppressed_keys

{% endcall %}

{% call cdp.cte(ctes, 'changed_rows') %}

    select
        read_rows.source_table,
        read_rows.record_id,
        read_rows.identifier_type,
        read_rows.identifier_value_raw,
        read_rows.observed_at,
        read_rows.changed_at
    from read_rows
    where exists (
        select 1 from changed_keys
        where changed_keys.source_table = read_rows.source_table and changed_keys.record_id = read_rows.record_id
    )
    union all
    -- Suppressed records not read this time: their rows as held.
    select
        held.source_table,
        held.record_id,
        held.identifier_type,
        held.identifier_value_raw,
        held.observed_at,
        held.changed_at
    from {{ validated }} as held
    inner join suppressed_keys
        on suppressed_keys.source_table = held.source_table and suppressed_keys.record_id = held.record_id
    where
        not exists (
            select 1 from read_keys
            where read_keys.source_table = held.source_table and read_keys.record_id = held.record_id
        )
        and not exists (
            select 1 from deleted_keys
            where deleted_keys.source_table = held.source_table and deleted_keys.record_id = held.record_id
        )

{% endcall %}

{% call cdp.cte(ctes, 'new_rows') %}
{{ cdp.identity_validate('changed_rows', identity) }}

{% endcall %}

{% call cdp.cte(ctes, 'old_rows') %}

    {%- if searched or new_suppressions %}
    select held.{{ row_columns | replace(', ', ', held.') }}
    from {{ validated }} as held
    inner join changed_keys on changed_keys.source_table = held.source_table and changed_keys.record_id = held.record_id
    {%- else %}
    -- Every changed record was read (or, from a bounded source, held at or after the mark): its rows held
    -- are among held_rows.
    select held.{{ row_columns | replace(', ', ', held.') }}
    from held_rows as held
    inner join changed_keys on changed_keys.source_table = held.source_table and changed_keys.record_id = held.record_id
    {%- endif %}

{% endcall %}

{% call cdp.cte(ctes, 'changes') %}

    select 'new' as change, {{ row_columns }} from new_rows
    union all
    select 'old' as change, {{ row_columns }} from old_rows

{% endcall %}
{%- else %}

{#- A full build validates every row in int_identifiers_validated itself: no record rows here, only the marks
    and the mode (validating no rows keeps the columns' types). -#}
{% call cdp.cte(ctes, 'read_rows') %}
    select * from {{ ref('int_identifiers_unioned') }}
    where 1 = 0

{% endcall %}

{% call cdp.cte(ctes, 'new_rows') %}
{{ cdp.identity_validate('read_rows', identity) }}

{% endcall %}

{% call cdp.cte(ctes, 'changes') %}

    select 'new' as change, {{ row_columns }} from new_rows

{% endcall %}
{%- endif %}

{% call cdp.cte(ctes, 'marks') %}
    {%- for source in identity.sources %}
    {%- set mark = plan.current[source.model] if execute else {'watermark': none, 'rows': 0, 'boundary_rows': none, 'below_keysum': none} %}

    select
        'mark' as change,
        '{{ source.model }}' as source_table,
        {%- if mark.watermark is none %}
        cast(null as {{ dbt.type_timestamp() }}) as mark_watermark,
        {%- else %}
        cast('{{ mark.watermark }}' as {{ dbt.type_timestamp() }}) as mark_watermark,
        {%- endif %}
        cast({{ mark.rows }} as {{ dbt.type_bigint() }}) as mark_rows,
        cast({{ 'null' if mark.boundary_rows is none else mark.boundary_rows }} as {{ dbt.type_bigint() }}) as mark_boundary_rows,
        cast({{ 'null' if mark.below_keysum is none else mark.below_keysum }} as {{ dbt.type_bigint() }}) as mark_below_keysum,
        cast(null as {{ dbt.type_string() }}) as identifier_value
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    union all
    select
        'mode',
        '{{ plan.mode }}',
        {{ cdp.run_started_at_timestamp() }},
        cast(null as {{ dbt.type_bigint() }}),
        cast(null as {{ dbt.type_bigint() }}),
        cast(null as {{ dbt.type_bigint() }}),
        '{{ plan.config_hash }}'

{% endcall %}

{{ cdp.with_ctes(ctes, staged) }}
select
    cast(change as {{ dbt.type_string() }}) as change,
    {{ row_columns }},
    cast(null as {{ dbt.type_timestamp() }}) as mark_watermark,
    cast(null as {{ dbt.type_bigint() }}) as mark_rows,
    cast(null as {{ dbt.type_bigint() }}) as mark_boundary_rows,
    cast(null as {{ dbt.type_bigint() }}) as mark_below_keysum
from changes
union all
select
    change,
    source_table,
    cast(null as {{ dbt.type_string() }}),
    cast(null as {{ dbt.type_string() }}),
    cast(null as {{ dbt.type_string() }}),
    cast(null as {{ dbt.type_timestamp() }}),
    identifier_value,
    cast(null as {{ dbt.type_string() }}),
    cast(null as {{ dbt.type_string() }}),
    cast(null as {{ dbt.type_timestamp() }}),
    mark_watermark,
    mark_rows,
    mark_boundary_rows,
    mark_below_keysum
from marks
