{#-
    One row per valid, non-deleted opportunity of both CRMs, current state, with the amount in
    the corporate currency (sales-metrics §12: closed deals at the rate of their close date,
    open deals at the rate of min(close date, as-of date)), the owner and manager at close,
    win-rate eligibility and the awkward-but-real states kept and flagged.
-#}

with

opportunities as (
    select * from {{ ref('int_opportunities_unioned') }}
),

states as (
    select
        *,
        lag(status) over (partition by opportunity_id order by valid_from) as previous_status
    from {{ ref('fct_opportunity_states') }}
),

closings as (
    -- the last transition into a closed status: who owned the deal when it closed
    select
        opportunity_id,
        valid_from as closed_at,
        owner_rep_id as owner_rep_id_at_close,
        row_number() over (partition by opportunity_id order by valid_from desc) as closing_rank
    from states
    where status in ('won', 'lost')
        and (previous_status is null or previous_status = 'open')
),

creations as (
    select
        opportunity_id,
        owner_rep_id as owner_rep_id_at_creation,
        row_number() over (partition by opportunity_id order by valid_from) as state_rank
    from states
),

reps as (
    select * from {{ ref('int_reps_unioned') }}
),

hierarchy as (
    select * from {{ ref('int_reps_historized') }}
),

joined as (
    select
        opportunities.*,
        closings.closed_at,
        case when opportunities.is_closed then
                coalesce(closings.owner_rep_id_at_close, opportunities.owner_rep_id)
        end as owner_rep_id_at_close,
        coalesce(creations.owner_rep_id_at_creation, opportunities.owner_rep_id)
            as owner_rep_id_at_creation,
        case
            when opportunities.is_closed then opportunities.close_date
            else least(
                    coalesce(opportunities.close_date, {{ as_of_date() }}), {{ as_of_date() }}
                )
        end as conversion_date
    from opportunities
    left join closings
        on opportunities.opportunity_id = closings.opportunity_id
            and closings.closing_rank = 1
    left join creations
        on opportunities.opportunity_id = creations.opportunity_id
            and creations.state_rank = 1
),

converted as (
    select
        joined.*,
        coalesce(
            {{ converted_amount('joined.original_amount', 'joined.currency_code') }},
            -- HubSpot-only orgs: HubSpot's own conversion to the portal's home currency
            joined.amount_in_home_currency
        ) as opportunity_amount
    from joined
    {{ convert_currency_joins('joined.currency_code', 'joined.conversion_date') }}
),

final as (
    select
        -- ids
        converted.opportunity_id,
        converted.account_id,
        converted.owner_rep_id,
        converted.owner_rep_id_at_close,
        coalesce(
            converted.stamped_owner_manager_id_at_close,
            manager_at_close.manager_id,
            owner_at_close.manager_id
        ) as owner_manager_id_at_close,
        converted.owner_rep_id_at_creation,
        coalesce(converted.owner_rep_id_at_close, converted.owner_rep_id) as credited_rep_id,
        converted.campaign_id,
        converted.renewal_of_opportunity_id,

        -- text
        converted.opportunity_name,
        converted.opportunity_type,
        converted.stage_id,
        converted.stage_name,
        converted.ladder_stage,
        converted.stage_order,
        converted.status,
        converted.forecast_category,
        converted.lead_source,
        converted.loss_reason,
        converted.currency_code,

        -- numbers
        converted.probability,
        converted.original_amount,
        converted.opportunity_amount,
        case
            when converted.is_closed
                then
                    {{ salesops.datediff('converted.created_date', 'converted.close_date', 'day') }}
        end as days_to_close,

        -- booleans
        converted.is_closed,
        converted.is_won,
        converted.is_closed and (
            converted.loss_reason is null
            {%- if var('ineligible_loss_reasons', []) | length > 0 %}
            or converted.loss_reason not in (
                {%- for reason in var('ineligible_loss_reasons') %}
                '{{ reason }}'{% if not loop.last %}, {% endif %}
                {%- endfor %}
            )
            {%- endif %}
        ) as is_win_rate_eligible,
        converted.original_amount is null as is_amount_missing,
        converted.status = 'open' and converted.close_date < {{ as_of_date() }} as is_stale_open,
        converted.status = 'open' and not coalesce(current_owner.is_active, true)
            as is_owner_inactive,

        -- dates
        converted.created_at,
        converted.created_date,
        converted.close_date,
        converted.closed_at,
        case when converted.is_closed then {{ fiscal_quarter_label('converted.close_date') }} end
            as fiscal_quarter_closed,
        converted.contract_start_date,
        converted.contract_end_date,
        converted.source_system
    from converted
    left join reps as current_owner
        on converted.owner_rep_id = current_owner.rep_id
    left join reps as owner_at_close
        on converted.owner_rep_id_at_close = owner_at_close.rep_id
    left join hierarchy as manager_at_close
        on converted.owner_rep_id_at_close = manager_at_close.rep_id
            and converted.closed_at >= manager_at_close.valid_from
            and (
                manager_at_close.valid_to is null or converted.closed_at < manager_at_close.valid_to
            )
)

select * from final
