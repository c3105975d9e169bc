{#-
    Forecast categories of both CRMs onto one lower-case vocabulary (sales-metrics §3):
    Salesforce API values (Pipeline, BestCase, MostLikely, Forecast, Closed, Omitted) and labels
    (Best Case, Most Likely, Commit), HubSpot options (PIPELINE, BEST_CASE, MOST_LIKELY, COMMIT,
    CLOSED, OMIT). Anything else is NULL and falls back to the stage's default downstream.
-#}
{% macro normalize_forecast_category(expr) -%}
    case replace(replace(lower(trim({{ expr }})), ' ', ''), '_', '')
        when 'pipeline' then 'pipeline'
        when 'bestcase' then 'best_case'
        when 'mostlikely' then 'most_likely'
        when 'forecast' then 'commit'
        when 'commit' then 'commit'
        when 'closed' then 'closed'
        when 'omitted' then 'omitted'
        when 'omit' then 'omitted'
    end
{%- endmacro %}

{#-
    Opportunity types onto new_business / expansion / renewal. Renewals are recognised by a
    renewal link or the word "renew"; expansions by the usual upsell wording (Salesforce
    "Existing Customer - Upgrade", HubSpot "existingbusiness", "Expansion", "Upsell", ...);
    everything else is new business.
-#}
{% macro normalize_opportunity_type(type_expr, renewal_of_expr='null') -%}
    case
        when {{ renewal_of_expr }} is not null then 'renewal'
        when lower({{ type_expr }}) like '%renew%' then 'renewal'
        when lower({{ type_expr }}) like '%expan%'
            or lower({{ type_expr }}) like '%upsell%'
            or lower({{ type_expr }}) like '%upgrade%'
            or lower({{ type_expr }}) like '%cross%'
            or lower({{ type_expr }}) like '%existing%' then 'expansion'
        else 'new_business'
    end
{%- endmacro %}
