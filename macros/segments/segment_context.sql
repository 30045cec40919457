{#- What declared segments render against in a dbt model: the relations (customer_traits, customers, events, order_lines,
    suppressed_customers), the fields (columns of customer_traits and customers with their contract types),
    the golden-record-only columns (golden_fields), every declared segment (vars.cdp_segments, and the saved segment models whose config.meta.cdp_segment holds
    a definition) and where each was declared. Without the project graph (dbt unit tests) the fields are the
    ones the older `conditions:` lists name, of unknown type. -#}
{% macro segment_context() -%}
    {%- set relations = {
        'customer_traits': ref('customer_traits'),
        'customers': ref('customers'),
        'events': ref('events'),
        'order_lines': ref('order_lines'),
        'suppressed_customers': ref('suppressed_customers'),
    } -%}
    {%- set segments = {} -%}
    {%- set origins = {} -%}
    {%- for name, definition in var('cdp_segments', {}).items() -%}
        {%- do segments.update({name: definition}) -%}
        {%- do origins.update({name: 'dbt_project.yml: vars.cdp_segments.' ~ name}) -%}
    {%- endfor -%}
    {%- set nodes = graph.get('nodes') or {} -%}
    {%- for node in nodes.values() if node.resource_type == 'model' and (node.config.get('meta') or {}).get('cdp_segment') is not none -%}
        {%- set name = node.name[4:] -%}
        {%- set origin = (node.patch_path or node.original_file_path).split('://')[-1] ~ ': models.' ~ node.name ~ '.config.meta.cdp_segment' -%}
        {%- if not node.name.startswith('seg_') or name in segments -%}
            {{ exceptions.raise_compiler_error(origin ~ ": a saved segment's model is seg_<name>, and <name> is not declared twice (" ~ node.name ~ ")") }}
        {%- endif -%}
        {%- do segments.update({name: node.config.meta.cdp_segment}) -%}
        {%- do origins.update({name: origin}) -%}
    {%- endfor -%}
    {%- set fields = {} -%}
    {%- set golden_fields = [] if nodes else none -%}
    {%- for model in ['customer_traits', 'customers'] if 'model.cdp.' ~ model in nodes -%}
        {%- for column in nodes['model.cdp.' ~ model].columns.values() -%}
            {%- if model == 'customers' and column.name not in fields -%}
                {%- do golden_fields.append(column.name) -%}
            {%- endif -%}
            {%- do fields.update({column.name: column.data_type}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if not nodes -%}
        {%- for definition in segments.values() if definition is mapping -%}
            {%- for condition in definition.get('conditions') or [] if condition is mapping -%}
                {%- do fields.update({condition.get('field', condition.get('trait')): none}) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return({'relations': relations, 'segments': segments, 'origins': origins, 'fields': fields, 'golden_fields': golden_fields}) }}
{%- endmacro %}
