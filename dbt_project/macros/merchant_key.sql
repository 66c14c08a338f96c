{#- The normalised merchant key of a merchant name or statement description (docs/statements.md):
    "SQ *BLUE BOTTLE #123 OAKLAND CA" and "Blue Bottle" both give "blue bottle". On the lower-cased
    text, apostrophes dropped:
    1. payment-processor prefixes ("sq *", "tst*", "paypal *", "sp *", ...) are removed;
    2. punctuation becomes spaces ('#', '*' and '&' survive for the next step);
    3. everything from the first store number or reference code on is cut ("#123", "*ab12cd",
       "store 0042", or any later word holding a digit): what follows is a location or a code;
    4. a trailing "<city> <US state>", then a trailing web suffix (" com"), is cut, keeping a word;
    5. spaces are folded. A text that is only a code keeps its cleaned text rather than becoming null. -#}
{% macro merchant_key(column) -%}
    {%- set prefixes = '^\\s*((sq|tst|sp|pp|paypal|py|ic|dd|pos|bt|cke|tm)\\s*\\*\\s*)+' -%}
    {%- set code = '(\\s*[#*]\\s*\\pL*[0-9]|\\s+(store|str|location|loc|unit|no|ref)\\s*#?\\s*[0-9]|\\s+\\pL*[0-9]).*$' -%}
    {%- set city = '((san|los|las|new|st|saint|santa|fort|ft|el|la|palo|long|salt lake|mountain|north|south|east|west)\\s+)?\\pL+' -%}
    {%- set states = 'al|ak|az|ar|ca|co|ct|de|dc|fl|ga|hi|id|il|in|ia|ks|ky|la|me|md|ma|mi|mn|ms|mo|mt|ne|nv|nh|nj|nm|ny|nc|nd|oh|ok|or|pa|ri|sc|sd|tn|tx|ut|vt|va|wa|wv|wi|wy' -%}
    {#- chr(39) is an apostrophe on every engine. The prefix, code and city patterns are anchored (^ or
        .*$ or $), so one replacement is the only one. -#}
    {%- set cleaned = regexp_replace_all(
        regexp_replace_anchored("replace(lower(" ~ column ~ "), chr(39), '')", sql_string(prefixes), "''"),
        "'[^\\pL\\pN#*&]+'", "' '"
    ) -%}
    {%- set cut = regexp_replace_anchored(
        regexp_replace_anchored(cleaned, sql_string(code), "''"),
        sql_string('(\\S)(\\s+com)?(\\s+' ~ city ~ '\\s+(' ~ states ~ '))?$'), "'\\1'"
    ) -%}
    coalesce(
        nullif(trim({{ regexp_replace_all(cut, "'[\\s#*]+'", "' '") }}), ''),
        nullif(trim({{ regexp_replace_all('lower(' ~ column ~ ')', "'[^\\pL\\pN&]+'", "' '") }}), '')
    )
{%- endmacro %}
