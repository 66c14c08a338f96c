{#- Where DuckDB and Spark SQL spell one thing differently (docs/scaling.md, "Engines"): each macro
    dispatches on the adapter, `duckdb__` for DuckDB and `spark__` for Spark (and so Databricks). A
    model writes the macro, never the dialect. Regex patterns are written once: both engines read
    backslashes in string literals as they are (Spark through spark.sql.parser.escapedStringLiterals,
    set in the spark target of profiles.yml), and both regex engines (RE2, java.util.regex) agree on
    the constructs used here (\s, \S, \pL, \pN, \b, classes, groups, anchors). -#}

{#- A pattern (the SQL text of a string literal's contents) as a SQL string literal. -#}
{% macro sql_string(text) -%}
    '{{ text }}'
{%- endmacro %}


{#- `text` contains a match of `pattern` (a SQL expression: a literal or a column). -#}
{% macro regexp_contains(text, pattern) -%}
    {{ return(adapter.dispatch('regexp_contains', 'spendsense')(text, pattern)) }}
{%- endmacro %}

{% macro duckdb__regexp_contains(text, pattern) -%}
    regexp_matches({{ text }}, {{ pattern }})
{%- endmacro %}

{% macro spark__regexp_contains(text, pattern) -%}
    rlike({{ text }}, {{ pattern }})
{%- endmacro %}


{#- The whole of `text` matches `pattern` (a constant pattern, written without quotes). -#}
{% macro regexp_full_match(text, pattern) -%}
    {{ return(adapter.dispatch('regexp_full_match', 'spendsense')(text, pattern)) }}
{%- endmacro %}

{% macro duckdb__regexp_full_match(text, pattern) -%}
    regexp_full_match({{ text }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regexp_full_match(text, pattern) -%}
    rlike({{ text }}, '^(?:{{ pattern }})$')
{%- endmacro %}


{#- Every match of `pattern` (SQL literal) replaced by `replacement` (SQL literal). -#}
{% macro regexp_replace_all(text, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'spendsense')(text, pattern, replacement)) }}
{%- endmacro %}

{% macro duckdb__regexp_replace_all(text, pattern, replacement) -%}
    regexp_replace({{ text }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(text, pattern, replacement) -%}
    regexp_replace({{ text }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}


{#- The match of an ANCHORED `pattern` (one match at most, so first and all agree) replaced by
    `replacement`, whose group references are written \1 (Spark's $1 is made here). -#}
{% macro regexp_replace_anchored(text, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_anchored', 'spendsense')(text, pattern, replacement)) }}
{%- endmacro %}

{% macro duckdb__regexp_replace_anchored(text, pattern, replacement) -%}
    regexp_replace({{ text }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}

{% macro spark__regexp_replace_anchored(text, pattern, replacement) -%}
    regexp_replace({{ text }}, {{ pattern }}, {{ replacement | replace('\\', '$') }})
{%- endmacro %}


{#- Named capture groups of one pattern as a struct: `names` lists the field of each group in order. -#}
{% macro regexp_extract_groups(text, pattern, names) -%}
    {{ return(adapter.dispatch('regexp_extract_groups', 'spendsense')(text, pattern, names)) }}
{%- endmacro %}

{% macro duckdb__regexp_extract_groups(text, pattern, names) -%}
    regexp_extract({{ text }}, '{{ pattern }}', ['{{ names | join("', '") }}'])
{%- endmacro %}

{% macro spark__regexp_extract_groups(text, pattern, names) -%}
    named_struct(
        {%- for name in names %}
        '{{ name }}', regexp_extract({{ text }}, '{{ pattern }}', {{ loop.index }}){% if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}


{#- Whole days from `start_date` to `end_date` (DuckDB: date - date; Spark: that is an interval). -#}
{% macro days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('days_between', 'spendsense')(start_date, end_date)) }}
{%- endmacro %}

{% macro duckdb__days_between(start_date, end_date) -%}
    ({{ end_date }} - {{ start_date }})
{%- endmacro %}

{% macro spark__days_between(start_date, end_date) -%}
    datediff({{ end_date }}, {{ start_date }})
{%- endmacro %}


{#- A date parsed with one of `formats` (strptime spellings: %Y %m %d %b %B), null when none fits. -#}
{% macro try_parse_date(text, formats) -%}
    {{ return(adapter.dispatch('try_parse_date', 'spendsense')(text, formats)) }}
{%- endmacro %}

{% macro duckdb__try_parse_date(text, formats) -%}
    {%- if formats is string %}{% set formats = [formats] %}{% endif -%}
    cast(try_strptime({{ text }}, ['{{ formats | join("', '") }}']) as date)
{%- endmacro %}

{% macro spark__try_parse_date(text, formats) -%}
    {%- if formats is string %}{% set formats = [formats] %}{% endif -%}
    {%- set java = {'%Y': 'y', '%m': 'M', '%d': 'd', '%b': 'MMM', '%B': 'MMMM'} -%}
    coalesce(
        {%- for format in formats %}
        {%- set pattern = namespace(text=format | replace("'", "''")) %}
        {%- for strftime, java_pattern in java.items() %}
        {%- set pattern.text = pattern.text | replace(strftime, java_pattern) %}
        {%- endfor %}
        cast(try_to_timestamp({{ text }}, '{{ pattern.text }}') as date){% if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}


{#- A string field of a JSON text (null when missing). -#}
{% macro json_string_field(json_text, field) -%}
    {{ return(adapter.dispatch('json_string_field', 'spendsense')(json_text, field)) }}
{%- endmacro %}

{% macro duckdb__json_string_field(json_text, field) -%}
    json_extract_string({{ json_text }}, '$.{{ field }}')
{%- endmacro %}

{% macro spark__json_string_field(json_text, field) -%}
    get_json_object({{ json_text }}, '$.{{ field }}')
{%- endmacro %}


{#- A value kept as JSON inside a struct (numbers, booleans and nulls of different types in one list). -#}
{% macro json_value(expression) -%}
    {{ return(adapter.dispatch('json_value', 'spendsense')(expression)) }}
{%- endmacro %}

{% macro duckdb__json_value(expression) -%}
    to_json({{ expression }})
{%- endmacro %}

{% macro spark__json_value(expression) -%}
    cast({{ expression }} as variant)
{%- endmacro %}


{#- A struct from (name, SQL expression) pairs, in that field order. -#}
{% macro make_struct(fields) -%}
    {{ return(adapter.dispatch('make_struct', 'spendsense')(fields)) }}
{%- endmacro %}

{% macro duckdb__make_struct(fields) -%}
    struct_pack({% for name, expression in fields %}{{ name }} := {{ expression }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{% macro spark__make_struct(fields) -%}
    named_struct({% for name, expression in fields %}'{{ name }}', {{ expression }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}


{#- A list of SQL expressions as an array / list value. -#}
{% macro make_array(items) -%}
    {{ return(adapter.dispatch('make_array', 'spendsense')(items)) }}
{%- endmacro %}

{% macro duckdb__make_array(items) -%}
    [{{ items | join(', ') }}]
{%- endmacro %}

{% macro spark__make_array(items) -%}
    array({{ items | join(', ') }})
{%- endmacro %}


{#- Array functions: a lambda is (variable name, SQL expression over it). -#}
{% macro array_transform(array, variable, expression) -%}
    {{ return(adapter.dispatch('array_transform', 'spendsense')(array, variable, expression)) }}
{%- endmacro %}

{% macro duckdb__array_transform(array, variable, expression) -%}
    list_transform({{ array }}, lambda {{ variable }}: {{ expression }})
{%- endmacro %}

{% macro spark__array_transform(array, variable, expression) -%}
    transform({{ array }}, {{ variable }} -> {{ expression }})
{%- endmacro %}


{% macro array_filter(array, variable, expression) -%}
    {{ return(adapter.dispatch('array_filter', 'spendsense')(array, variable, expression)) }}
{%- endmacro %}

{% macro duckdb__array_filter(array, variable, expression) -%}
    list_filter({{ array }}, lambda {{ variable }}: {{ expression }})
{%- endmacro %}

{% macro spark__array_filter(array, variable, expression) -%}
    filter({{ array }}, {{ variable }} -> {{ expression }})
{%- endmacro %}


{#- Structs ascending by `field`, which must be their first field and unique among them (DuckDB sorts
    whole structs; Spark cannot compare a struct holding JSON values, so it compares that field). -#}
{% macro array_sort_by_first_field(array, field) -%}
    {{ return(adapter.dispatch('array_sort_by_first_field', 'spendsense')(array, field)) }}
{%- endmacro %}

{% macro duckdb__array_sort_by_first_field(array, field) -%}
    list_sort({{ array }})
{%- endmacro %}

{% macro spark__array_sort_by_first_field(array, field) -%}
    array_sort(
        {{ array }},
        (left_item, right_item) -> case
            when left_item.{{ field }} < right_item.{{ field }} then -1
            when left_item.{{ field }} > right_item.{{ field }} then 1
            else 0
        end
    )
{%- endmacro %}


{% macro array_distinct_sorted(array) -%}
    {{ return(adapter.dispatch('array_distinct_sorted', 'spendsense')(array)) }}
{%- endmacro %}

{% macro duckdb__array_distinct_sorted(array) -%}
    list_sort(list_distinct({{ array }}))
{%- endmacro %}

{% macro spark__array_distinct_sorted(array) -%}
    array_sort(array_distinct({{ array }}))
{%- endmacro %}


{#- The number of elements; the first element (null when empty); membership. -#}
{% macro array_size(array) -%}
    {{ return(adapter.dispatch('array_size', 'spendsense')(array)) }}
{%- endmacro %}

{% macro duckdb__array_size(array) -%}
    len({{ array }})
{%- endmacro %}

{% macro spark__array_size(array) -%}
    size({{ array }})
{%- endmacro %}


{% macro array_first(array) -%}
    {{ return(adapter.dispatch('array_first', 'spendsense')(array)) }}
{%- endmacro %}

{% macro duckdb__array_first(array) -%}
    {{ array }}[1]
{%- endmacro %}

{% macro spark__array_first(array) -%}
    try_element_at({{ array }}, 1)
{%- endmacro %}


{% macro array_has(array, element) -%}
    array_contains({{ array }}, {{ element }})
{%- endmacro %}


{#- The typed empty list of strings (an array column's value when nothing is in it). -#}
{% macro empty_string_array() -%}
    {{ return(adapter.dispatch('empty_string_array', 'spendsense')()) }}
{%- endmacro %}

{% macro duckdb__empty_string_array() -%}
    []::varchar[]
{%- endmacro %}

{% macro spark__empty_string_array() -%}
    cast(array() as array<string>)
{%- endmacro %}


{#- The list of strings type, for a cast. -#}
{% macro string_array_type() -%}
    {{ return(adapter.dispatch('string_array_type', 'spendsense')()) }}
{%- endmacro %}

{% macro duckdb__string_array_type() -%}
    varchar[]
{%- endmacro %}

{% macro spark__string_array_type() -%}
    array<string>
{%- endmacro %}


{#- Aggregate: the list of structs made of `fields` ((name, SQL expression) pairs) over the group,
    ordered by the fields named in `order_fields` (Spark compares with a lambda: a JSON-valued field
    is not orderable there). -#}
{% macro ordered_struct_list_agg(fields, order_fields) -%}
    {{ return(adapter.dispatch('ordered_struct_list_agg', 'spendsense')(fields, order_fields)) }}
{%- endmacro %}

{% macro duckdb__ordered_struct_list_agg(fields, order_fields) -%}
    {%- set expressions = dict(fields) -%}
    list(
        {{ make_struct(fields) }}
        order by {% for name in order_fields %}{{ expressions[name] }}{% if not loop.last %}, {% endif %}{% endfor %}
    )
{%- endmacro %}

{% macro spark__ordered_struct_list_agg(fields, order_fields) -%}
    array_sort(
        collect_list({{ make_struct(fields) }}),
        (left_item, right_item) -> case
            {%- for name in order_fields %}
            when left_item.{{ name }} < right_item.{{ name }} then -1
            when left_item.{{ name }} > right_item.{{ name }} then 1
            {%- endfor %}
            else 0
        end
    )
{%- endmacro %}


{#- Table function in a select list: one row per element of an array. -#}
{% macro explode_array(array) -%}
    {{ return(adapter.dispatch('explode_array', 'spendsense')(array)) }}
{%- endmacro %}

{% macro duckdb__explode_array(array) -%}
    unnest({{ array }})
{%- endmacro %}

{% macro spark__explode_array(array) -%}
    explode({{ array }})
{%- endmacro %}


{#- A JSON text parsed as `type`: a dict {'duckdb': ..., 'spark': ...} of the engines' type spellings. -#}
{% macro parse_json_as(json_text, types) -%}
    from_json({{ json_text }}, '{{ types[target.type] if target.type in types else types["spark"] }}')
{%- endmacro %}


{#- A JSON value (json_value) as a comparable text. -#}
{% macro json_comparable(expression) -%}
    {{ return(adapter.dispatch('json_comparable', 'spendsense')(expression)) }}
{%- endmacro %}

{% macro duckdb__json_comparable(expression) -%}
    {{ expression }}
{%- endmacro %}

{% macro spark__json_comparable(expression) -%}
    to_json({{ expression }})
{%- endmacro %}


{#- A tuple that orders by its parts in turn (arg_min / min_by keys). -#}
{% macro ordering_key(parts) -%}
    {{ return(adapter.dispatch('ordering_key', 'spendsense')(parts)) }}
{%- endmacro %}

{% macro duckdb__ordering_key(parts) -%}
    ({{ parts | join(', ') }})
{%- endmacro %}

{% macro spark__ordering_key(parts) -%}
    struct({{ parts | join(', ') }})
{%- endmacro %}


{#- The first day of each month from `first_month` to `last_month` (both month starts), one row each,
    as a column named `month_start`: the select list of a query over a one-row relation. -#}
{% macro month_starts(first_month, last_month) -%}
    {{ return(adapter.dispatch('month_starts', 'spendsense')(first_month, last_month)) }}
{%- endmacro %}

{% macro duckdb__month_starts(first_month, last_month) -%}
    cast(unnest(generate_series({{ first_month }}, {{ last_month }}, interval 1 month)) as date) as month_start
{%- endmacro %}

{% macro spark__month_starts(first_month, last_month) -%}
    explode(sequence({{ first_month }}, {{ last_month }}, interval 1 month)) as month_start
{%- endmacro %}


{#- The join keyword that keeps the left rows having a match, once each. -#}
{% macro semi_join() -%}
    {{ return(adapter.dispatch('semi_join', 'spendsense')()) }}
{%- endmacro %}

{% macro duckdb__semi_join() -%}
    semi join
{%- endmacro %}

{% macro spark__semi_join() -%}
    left semi join
{%- endmacro %}
