-- Every ladder stage sits at one place of the ladder, whichever CRM stage maps to it.
select
    ladder_stage,
    count(distinct coalesce(stage_order, -1)) as orders
from {{ ref('stage_ladder') }}
group by ladder_stage
having count(distinct coalesce(stage_order, -1)) > 1
