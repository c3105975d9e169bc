"""The emulated org's schema: Salesforce objects and fields, HubSpot properties, Google Ads rows.

This is the one place that says which objects and fields exist. The generator fills exactly these
columns, the API server describes them (Salesforce describe, HubSpot properties) and serves them,
and the connectors discover them through those endpoints like they would against a real org.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --------------------------------------------------------------------------------------------
# Salesforce
# --------------------------------------------------------------------------------------------

SF_STAGES = [
    # api name, sort order, is_closed, is_won, default probability, forecast category
    ("Prospecting", 1, False, False, 10, "Pipeline"),
    ("Qualification", 2, False, False, 20, "Pipeline"),
    ("Needs Analysis", 3, False, False, 40, "Pipeline"),
    ("Proposal/Price Quote", 4, False, False, 60, "BestCase"),
    ("Negotiation/Review", 5, False, False, 80, "Forecast"),
    ("Closed Won", 6, True, True, 100, "Closed"),
    ("Closed Lost", 7, True, False, 0, "Omitted"),
]
SF_OPEN_STAGES = [s[0] for s in SF_STAGES if not s[2]]
SF_FORECAST_CATEGORY_NAMES = {
    "Pipeline": "Pipeline",
    "BestCase": "Best Case",
    "MostLikely": "Most Likely",
    "Forecast": "Commit",
    "Closed": "Closed",
    "Omitted": "Omitted",
}
CURRENCIES = ["USD", "EUR", "GBP", "JPY"]
CORPORATE_CURRENCY = "USD"
LEAD_SOURCES = ["Web", "Paid Search", "Event", "Outbound", "Partner"]
OPPORTUNITY_TYPES = ["New Business", "Expansion", "Renewal"]
LOSS_REASONS = ["Price", "Competitor", "No Decision", "Timing", "Duplicate", "Unqualified"]
INDUSTRIES = [
    "Technology",
    "Financial Services",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Media",
    "Education",
    "Energy",
]
LEAD_STATUSES = [
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
]
TASK_STATUSES = ["Not Started", "In Progress", "Completed"]
TASK_SUBTYPES = ["Call", "Email", "Task"]
CAMPAIGN_TYPES = {
    "Web": "Webinar",
    "Paid Search": "Advertisement",
    "Event": "Conference",
    "Outbound": "Email",
    "Partner": "Partners",
}
REGIONS = ["NA", "EMEA", "APAC"]
SEGMENTS = ["SMB", "Mid-Market", "Enterprise"]


@dataclass(frozen=True)
class SfField:
    name: str
    type: str  # Salesforce describe type
    picklist: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()
    calculated: bool = False
    compound_field_name: str | None = None
    nillable: bool = True
    custom: bool = False
    length: int = 255

    @property
    def soap_type(self) -> str:
        return _SOAP_TYPES.get(self.type, "xsd:string")


_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "address": "urn:address",
}


@dataclass(frozen=True)
class SfObject:
    name: str
    key_prefix: str
    fields: tuple[SfField, ...]
    replicateable: bool = True
    # Objects without SystemModstamp (field history) are append-only on CreatedDate.
    cursor: str = "SystemModstamp"

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> SfField:
        for f in self.fields:
            if f.name.lower() == name.lower():
                return f
        raise KeyError(name)


def _f(name: str, type_: str = "string", **kw) -> SfField:
    if name.endswith("__c"):
        kw.setdefault("custom", True)
    if type_ == "picklist" and "picklist" in kw:
        kw["picklist"] = tuple(kw["picklist"])
    if "reference_to" in kw:
        kw["reference_to"] = tuple(kw["reference_to"])
    return SfField(name, type_, **kw)


def _audit(created_by: bool = True) -> list[SfField]:
    fields = [
        _f("IsDeleted", "boolean", nillable=False),
        _f("CreatedDate", "datetime", nillable=False),
        _f("LastModifiedDate", "datetime", nillable=False),
        _f("SystemModstamp", "datetime", nillable=False),
    ]
    if created_by:
        fields.insert(2, _f("CreatedById", "reference", reference_to=["User"]))
    return fields


def _address(prefix: str) -> list[SfField]:
    parent = f"{prefix}Address"
    return [
        _f(f"{prefix}Street", "textarea", compound_field_name=parent),
        _f(f"{prefix}City", "string", compound_field_name=parent),
        _f(f"{prefix}State", "string", compound_field_name=parent),
        _f(f"{prefix}PostalCode", "string", compound_field_name=parent),
        _f(f"{prefix}Country", "string", compound_field_name=parent),
        _f(parent, "address"),
    ]


def _id() -> SfField:
    return _f("Id", "id", nillable=False, length=18)


SF_OBJECTS: dict[str, SfObject] = {}


def _register(name: str, prefix: str, fields: list[SfField], **kw) -> None:
    SF_OBJECTS[name] = SfObject(name, prefix, tuple(fields), **kw)


_register(
    "UserRole",
    "00E",
    [
        _id(),
        _f("Name"),
        _f("ParentRoleId", "reference", reference_to=["UserRole"]),
        _f("DeveloperName"),
        _f("LastModifiedDate", "datetime"),
        _f("SystemModstamp", "datetime"),
    ],
)
_register(
    "User",
    "005",
    [
        _id(),
        _f("Name"),
        _f("FirstName"),
        _f("LastName"),
        _f("Email", "email"),
        _f("Username"),
        _f("IsActive", "boolean", nillable=False),
        _f("ManagerId", "reference", reference_to=["User"]),
        _f("UserRoleId", "reference", reference_to=["UserRole"]),
        _f("Title"),
        _f("Department"),
        _f("Division"),
        _f("Region__c", "picklist", picklist=REGIONS),
        _f("Segment__c", "picklist", picklist=SEGMENTS),
        _f("Hire_Date__c", "date"),
        _f("Termination_Date__c", "date"),
        _f("CreatedDate", "datetime"),
        _f("LastModifiedDate", "datetime"),
        _f("SystemModstamp", "datetime"),
    ],
)
_register(
    "Account",
    "001",
    [
        _id(),
        _f("Name"),
        _f("Type", "picklist", picklist=["Prospect", "Customer - Direct", "Customer - Channel"]),
        _f("Industry", "picklist", picklist=INDUSTRIES),
        _f("AnnualRevenue", "currency"),
        _f("NumberOfEmployees", "int"),
        _f("OwnerId", "reference", reference_to=["User"]),
        _f("ParentId", "reference", reference_to=["Account"]),
        _f("Website", "url"),
        *_address("Billing"),
        _f("Segment__c", "picklist", picklist=SEGMENTS),
        _f("Region__c", "picklist", picklist=REGIONS),
        _f("CurrencyIsoCode", "picklist", picklist=CURRENCIES),
        *_audit(),
    ],
)
_register(
    "Contact",
    "003",
    [
        _id(),
        _f("AccountId", "reference", reference_to=["Account"]),
        _f("FirstName"),
        _f("LastName"),
        _f("Name"),
        _f("Email", "email"),
        _f("Title"),
        _f("LeadSource", "picklist", picklist=LEAD_SOURCES),
        _f("OwnerId", "reference", reference_to=["User"]),
        _f("MasterRecordId", "reference", reference_to=["Contact"]),
        *_audit(),
    ],
)
_register(
    "Lead",
    "00Q",
    [
        _id(),
        _f("FirstName"),
        _f("LastName"),
        _f("Name"),
        _f("Company"),
        _f("Email", "email"),
        _f("Status", "picklist", picklist=LEAD_STATUSES),
        _f("LeadSource", "picklist", picklist=LEAD_SOURCES),
        _f("OwnerId", "reference", reference_to=["User"]),
        _f("IsConverted", "boolean", nillable=False),
        _f("ConvertedDate", "date"),
        _f("ConvertedAccountId", "reference", reference_to=["Account"]),
        _f("ConvertedContactId", "reference", reference_to=["Contact"]),
        _f("ConvertedOpportunityId", "reference", reference_to=["Opportunity"]),
        _f("Campaign_Source__c", "reference", reference_to=["Campaign"]),
        _f("MQL_Date__c", "datetime"),
        _f("SQL_Date__c", "datetime"),
        _f("First_Response_At__c", "datetime"),
        *_audit(),
    ],
)
_register(
    "Opportunity",
    "006",
    [
        _id(),
        _f("Name"),
        _f("AccountId", "reference", reference_to=["Account"]),
        _f("OwnerId", "reference", reference_to=["User"]),
        _f("Type", "picklist", picklist=OPPORTUNITY_TYPES),
        _f("StageName", "picklist", picklist=[s[0] for s in SF_STAGES], nillable=False),
        _f("Amount", "currency"),
        _f("CurrencyIsoCode", "picklist", picklist=CURRENCIES),
        _f("Probability", "percent"),
        _f("ExpectedRevenue", "currency", calculated=True),
        _f("CloseDate", "date", nillable=False),
        _f("ForecastCategory", "picklist", picklist=list(SF_FORECAST_CATEGORY_NAMES)),
        _f(
            "ForecastCategoryName",
            "picklist",
            picklist=list(SF_FORECAST_CATEGORY_NAMES.values()),
        ),
        _f("IsClosed", "boolean", nillable=False),
        _f("IsWon", "boolean", nillable=False),
        _f("LeadSource", "picklist", picklist=LEAD_SOURCES),
        _f("CampaignId", "reference", reference_to=["Campaign"]),
        _f("FiscalYear", "int"),
        _f("FiscalQuarter", "int"),
        _f("Loss_Reason__c", "picklist", picklist=LOSS_REASONS),
        _f("Contract_Term_Months__c", "double"),
        _f("Contract_Start_Date__c", "date"),
        _f("Contract_End_Date__c", "date"),
        _f("Renewal_Of__c", "reference", reference_to=["Opportunity"]),
        _f("Owner_Manager_At_Close__c", "reference", reference_to=["User"]),
        _f("Owner_Role_At_Close__c"),
        _f("Days_Open__c", "double", calculated=True),
        *_audit(),
    ],
)
_register(
    "OpportunityStage",
    "01J",
    [
        _id(),
        _f("ApiName"),
        _f("MasterLabel"),
        _f("IsActive", "boolean"),
        _f("SortOrder", "int"),
        _f("IsClosed", "boolean"),
        _f("IsWon", "boolean"),
        _f("DefaultProbability", "percent"),
        _f("ForecastCategory", "picklist", picklist=list(SF_FORECAST_CATEGORY_NAMES)),
        _f(
            "ForecastCategoryName",
            "picklist",
            picklist=list(SF_FORECAST_CATEGORY_NAMES.values()),
        ),
        _f("CreatedDate", "datetime"),
        _f("LastModifiedDate", "datetime"),
        _f("SystemModstamp", "datetime"),
    ],
)
_register(
    "OpportunityHistory",
    "008",
    [
        _id(),
        _f("OpportunityId", "reference", reference_to=["Opportunity"]),
        _f("StageName", "picklist", picklist=[s[0] for s in SF_STAGES]),
        _f("Amount", "currency"),
        _f("ExpectedRevenue", "currency"),
        _f("CloseDate", "date"),
        _f("Probability", "percent"),
        _f("ForecastCategory", "picklist", picklist=list(SF_FORECAST_CATEGORY_NAMES)),
        _f("PrevAmount", "currency"),
        _f("PrevCloseDate", "date"),
        _f("CreatedById", "reference", reference_to=["User"]),
        _f("IsDeleted", "boolean"),
        _f("CreatedDate", "datetime"),
        _f("SystemModstamp", "datetime"),
    ],
)
_register(
    "OpportunityFieldHistory",
    "017",
    [
        _id(),
        _f("OpportunityId", "reference", reference_to=["Opportunity"]),
        _f("Field"),
        _f("DataType"),
        _f("OldValue", "anyType"),
        _f("NewValue", "anyType"),
        _f("CreatedById", "reference", reference_to=["User"]),
        _f("IsDeleted", "boolean"),
        _f("CreatedDate", "datetime"),
    ],
    cursor="CreatedDate",
)
_register(
    "Task",
    "00T",
    [
        _id(),
        _f("Subject"),
        _f("WhoId", "reference", reference_to=["Contact", "Lead"]),
        _f("WhatId", "reference", reference_to=["Opportunity", "Account"]),
        _f("AccountId", "reference", reference_to=["Account"]),
        _f("OwnerId", "reference", reference_to=["User"]),
        _f("Status", "picklist", picklist=TASK_STATUSES),
        _f("Type", "picklist", picklist=["Call", "Email", "Other"]),
        _f("TaskSubtype", "picklist", picklist=TASK_SUBTYPES),
        _f("ActivityDate", "date"),
        _f("CompletedDateTime", "datetime"),
        _f("IsClosed", "boolean"),
        _f("CallDurationInSeconds", "int"),
        _f("IsArchived", "boolean"),
        *_audit(),
    ],
)
_register(
    "Event",
    "00U",
    [
        _id(),
        _f("Subject"),
        _f("WhoId", "reference", reference_to=["Contact", "Lead"]),
        _f("WhatId", "reference", reference_to=["Opportunity", "Account"]),
        _f("AccountId", "reference", reference_to=["Account"]),
        _f("OwnerId", "reference", reference_to=["User"]),
        _f("Type", "picklist", picklist=["Meeting", "Demo", "Call"]),
        _f("ActivityDate", "date"),
        _f("StartDateTime", "datetime"),
        _f("EndDateTime", "datetime"),
        _f("DurationInMinutes", "int"),
        _f("IsArchived", "boolean"),
        *_audit(),
    ],
)
_register(
    "Campaign",
    "701",
    [
        _id(),
        _f("Name"),
        _f("Type", "picklist", picklist=sorted(set(CAMPAIGN_TYPES.values()))),
        _f("Status", "picklist", picklist=["Planned", "In Progress", "Completed"]),
        _f("ParentId", "reference", reference_to=["Campaign"]),
        _f("StartDate", "date"),
        _f("EndDate", "date"),
        _f("BudgetedCost", "currency"),
        _f("ActualCost", "currency"),
        _f("IsActive", "boolean"),
        _f("Channel__c", "picklist", picklist=LEAD_SOURCES),
        *_audit(),
    ],
)
_register(
    "CampaignMember",
    "00v",
    [
        _id(),
        _f("CampaignId", "reference", reference_to=["Campaign"]),
        _f("LeadId", "reference", reference_to=["Lead"]),
        _f("ContactId", "reference", reference_to=["Contact"]),
        _f("LeadOrContactId", "reference", reference_to=["Lead", "Contact"]),
        _f("Status", "picklist", picklist=["Sent", "Responded"]),
        _f("HasResponded", "boolean"),
        _f("FirstRespondedDate", "date"),
        *_audit(),
    ],
)
_register(
    "Period",
    "026",
    [
        _id(),
        _f("Type", "picklist", picklist=["Year", "Quarter", "Month"]),
        _f("StartDate", "date"),
        _f("EndDate", "date"),
        _f("FiscalYearSettingsId", "reference"),
        _f("Number", "int"),
        _f("FullyQualifiedLabel"),
        _f("IsForecastPeriod", "boolean"),
        _f("SystemModstamp", "datetime"),
    ],
)
_register(
    "ForecastingQuota",
    "0J9",
    [
        _id(),
        _f("QuotaOwnerId", "reference", reference_to=["User"]),
        _f("StartDate", "date"),
        _f("PeriodId", "reference", reference_to=["Period"]),
        _f("QuotaAmount", "currency"),
        _f("CurrencyIsoCode", "picklist", picklist=CURRENCIES),
        _f("ForecastingTypeId", "reference"),
        _f("Territory2Id", "reference", reference_to=["Territory2"]),
        _f("IsQuantity", "boolean"),
        *_audit(),
    ],
)
_register(
    "Territory2",
    "0MI",
    [
        _id(),
        _f("Name"),
        _f("DeveloperName"),
        _f("ParentTerritory2Id", "reference", reference_to=["Territory2"]),
        _f("Territory2ModelId", "reference"),
        _f("Region__c", "picklist", picklist=REGIONS),
        _f("Segment__c", "picklist", picklist=SEGMENTS),
        _f("LastModifiedDate", "datetime"),
        _f("SystemModstamp", "datetime"),
    ],
)
_register(
    "UserTerritory2Association",
    "0R0",
    [
        _id(),
        _f("UserId", "reference", reference_to=["User"]),
        _f("Territory2Id", "reference", reference_to=["Territory2"]),
        _f("IsActive", "boolean"),
        _f("RoleInTerritory2"),
        _f("LastModifiedDate", "datetime"),
        _f("SystemModstamp", "datetime"),
    ],
)
_register(
    "ObjectTerritory2Association",
    "0R1",
    [
        _id(),
        _f("ObjectId", "reference", reference_to=["Account"]),
        _f("Territory2Id", "reference", reference_to=["Territory2"]),
        _f("AssociationCause"),
        _f("IsDeleted", "boolean"),
        _f("LastModifiedDate", "datetime"),
        _f("SystemModstamp", "datetime"),
    ],
)
_register(
    "CurrencyType",
    "02B",
    [
        _id(),
        _f("IsoCode", "picklist", picklist=CURRENCIES),
        _f("ConversionRate", "double"),
        _f("DecimalPlaces", "int"),
        _f("IsActive", "boolean"),
        _f("IsCorporate", "boolean"),
        _f("CreatedDate", "datetime"),
        _f("LastModifiedDate", "datetime"),
        _f("SystemModstamp", "datetime"),
    ],
)
_register(
    "DatedConversionRate",
    "04w",
    [
        _id(),
        _f("IsoCode", "picklist", picklist=CURRENCIES),
        _f("ConversionRate", "double"),
        _f("StartDate", "date"),
        _f("NextStartDate", "date"),
        _f("CreatedDate", "datetime"),
        _f("LastModifiedDate", "datetime"),
        _f("SystemModstamp", "datetime"),
    ],
)

# Fields that appear only after the schema drifts (the org's admin adds a custom field).
SF_DRIFT_FIELDS = {"Opportunity": _f("Competitor__c", "string")}

# --------------------------------------------------------------------------------------------
# HubSpot
# --------------------------------------------------------------------------------------------

HS_PIPELINE_ID = "default"
HS_STAGES = [
    # id, label, display order, is_closed, probability
    ("appointmentscheduled", "Appointment Scheduled", 0, False, "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", 1, False, "0.4"),
    ("presentationscheduled", "Presentation Scheduled", 2, False, "0.6"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", 3, False, "0.8"),
    ("contractsent", "Contract Sent", 4, False, "0.9"),
    ("closedwon", "Closed Won", 5, True, "1.0"),
    ("closedlost", "Closed Lost", 6, True, "0.0"),
]
HS_FORECAST_CATEGORIES = ["PIPELINE", "BEST_CASE", "MOST_LIKELY", "COMMIT", "CLOSED", "OMIT"]
HS_LIFECYCLE_STAGES = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
]
HS_OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3"}
HS_ENGAGEMENTS = ("calls", "emails", "meetings")


@dataclass(frozen=True)
class HsProperty:
    name: str
    type: str  # string, number, date, datetime, enumeration, bool
    field_type: str = "text"
    options: tuple[str, ...] = ()
    calculated: bool = False
    hubspot_defined: bool = True


def _p(name: str, type_: str = "string", *options: str, calculated: bool = False) -> HsProperty:
    field_type = {
        "string": "text",
        "number": "number",
        "date": "date",
        "datetime": "date",
        "enumeration": "select",
        "bool": "booleancheckbox",
    }[type_]
    return HsProperty(name, type_, field_type, tuple(options), calculated)


@dataclass(frozen=True)
class HsObject:
    name: str
    properties: tuple[HsProperty, ...]
    cursor_property: str = "hs_lastmodifieddate"
    associations: tuple[str, ...] = field(default=())

    @property
    def property_names(self) -> list[str]:
        return [p.name for p in self.properties]


HS_OBJECTS: dict[str, HsObject] = {
    "companies": HsObject(
        "companies",
        (
            _p("name"),
            _p("domain"),
            _p("industry", "enumeration", *INDUSTRIES),
            _p("annualrevenue", "number"),
            _p("numberofemployees", "number"),
            _p("hubspot_owner_id", "enumeration"),
            _p("lifecyclestage", "enumeration", *HS_LIFECYCLE_STAGES),
            _p("country"),
            _p("createdate", "datetime"),
            _p("hs_lastmodifieddate", "datetime"),
            _p("hs_object_id", "number"),
        ),
        associations=("contacts", "deals"),
    ),
    "contacts": HsObject(
        "contacts",
        (
            _p("email"),
            _p("firstname"),
            _p("lastname"),
            _p("jobtitle"),
            _p("lifecyclestage", "enumeration", *HS_LIFECYCLE_STAGES),
            _p("hs_lead_status", "enumeration", "NEW", "OPEN", "IN_PROGRESS", "CONNECTED"),
            _p("hubspot_owner_id", "enumeration"),
            _p("associatedcompanyid", "number"),
            _p("hs_analytics_source", "enumeration", *LEAD_SOURCES),
            _p("hs_lifecyclestage_lead_date", "datetime"),
            _p("hs_lifecyclestage_marketingqualifiedlead_date", "datetime"),
            _p("hs_lifecyclestage_salesqualifiedlead_date", "datetime"),
            _p("hs_lifecyclestage_opportunity_date", "datetime"),
            _p("hs_lifecyclestage_customer_date", "datetime"),
            _p("createdate", "datetime"),
            _p("lastmodifieddate", "datetime"),
            _p("hs_object_id", "number"),
        ),
        cursor_property="lastmodifieddate",
        associations=("companies", "deals"),
    ),
    "deals": HsObject(
        "deals",
        (
            _p("dealname"),
            _p("dealtype", "enumeration", "newbusiness", "existingbusiness", "renewal"),
            _p("pipeline", "enumeration", HS_PIPELINE_ID),
            _p("dealstage", "enumeration", *[s[0] for s in HS_STAGES]),
            _p("hubspot_owner_id", "enumeration"),
            _p("amount", "number"),
            _p("deal_currency_code", "enumeration", *CURRENCIES),
            _p("amount_in_home_currency", "number", calculated=True),
            _p("createdate", "datetime"),
            _p("closedate", "datetime"),
            _p("hs_lastmodifieddate", "datetime"),
            _p("hs_is_closed", "bool", calculated=True),
            _p("hs_is_closed_won", "bool", calculated=True),
            _p("hs_deal_stage_probability", "number", calculated=True),
            _p("hs_forecast_category", "enumeration", *HS_FORECAST_CATEGORIES),
            _p("hs_analytics_source", "enumeration", *LEAD_SOURCES),
            _p("closed_lost_reason"),
            _p("hs_object_id", "number"),
            HsProperty("contract_start_date", "date", "date", hubspot_defined=False),
            HsProperty("contract_end_date", "date", "date", hubspot_defined=False),
            HsProperty("renewal_of_deal_id", "string", "text", hubspot_defined=False),
            *[_p(f"hs_date_entered_{s[0]}", "datetime", calculated=True) for s in HS_STAGES],
        ),
        associations=("companies", "contacts"),
    ),
    "calls": HsObject(
        "calls",
        (
            _p("hs_timestamp", "datetime"),
            _p("hs_call_title"),
            _p("hs_call_status", "enumeration", "COMPLETED", "SCHEDULED"),
            _p("hs_call_duration", "number"),
            _p("hubspot_owner_id", "enumeration"),
            _p("hs_createdate", "datetime"),
            _p("hs_lastmodifieddate", "datetime"),
            _p("hs_object_id", "number"),
        ),
        associations=("deals", "contacts", "companies"),
    ),
    "emails": HsObject(
        "emails",
        (
            _p("hs_timestamp", "datetime"),
            _p("hs_email_subject"),
            _p("hs_email_status", "enumeration", "SENT", "SCHEDULED"),
            _p("hs_email_direction", "enumeration", "EMAIL", "INCOMING_EMAIL"),
            _p("hubspot_owner_id", "enumeration"),
            _p("hs_createdate", "datetime"),
            _p("hs_lastmodifieddate", "datetime"),
            _p("hs_object_id", "number"),
        ),
        associations=("deals", "contacts", "companies"),
    ),
    "meetings": HsObject(
        "meetings",
        (
            _p("hs_timestamp", "datetime"),
            _p("hs_meeting_title"),
            _p("hs_meeting_outcome", "enumeration", "COMPLETED", "SCHEDULED", "NO_SHOW"),
            _p("hs_meeting_start_time", "datetime"),
            _p("hs_meeting_end_time", "datetime"),
            _p("hubspot_owner_id", "enumeration"),
            _p("hs_createdate", "datetime"),
            _p("hs_lastmodifieddate", "datetime"),
            _p("hs_object_id", "number"),
        ),
        associations=("deals", "contacts", "companies"),
    ),
}
# Deal properties whose changes HubSpot keeps as property history (propertiesWithHistory).
HS_DEAL_HISTORY_PROPERTIES = (
    "dealstage",
    "amount",
    "closedate",
    "hubspot_owner_id",
    "hs_forecast_category",
    "deal_currency_code",
)
HS_DRIFT_PROPERTIES = {"deals": _p("competitor")}
# Properties whose values are ids of other HubSpot records (rendered as HubSpot ids on the wire).
HS_REFERENCE_PROPERTIES = frozenset(
    {"hubspot_owner_id", "associatedcompanyid", "renewal_of_deal_id"}
)
HS_ASSOCIATION_TYPE_IDS = {
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "calls"): 205,
    ("deals", "emails"): 209,
    ("deals", "meetings"): 211,
    ("calls", "deals"): 206,
    ("emails", "deals"): 210,
    ("meetings", "deals"): 212,
}
HS_EMAIL_EVENT_TYPES = ("SENT", "DELIVERED", "OPEN", "CLICK")

# --------------------------------------------------------------------------------------------
# Google Ads
# --------------------------------------------------------------------------------------------

GOOGLE_ADS_CUSTOMER_ID = "1234567890"
GOOGLE_ADS_METRIC_COLUMNS = ("cost_micros", "clicks", "impressions", "conversions")
