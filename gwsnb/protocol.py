"""Names from the GWS v2 contract (docs/gws-flow.md, docs/notifications.md), shared by the client and the sandbox.

Only names live here, never behaviour: the client and the sandbox must each agree with the protocol on
their own, so that a mistake in one is not hidden by the same mistake in the other.
"""

from __future__ import annotations

from typing import Final

API_PREFIX: Final = "/api/v2"
NOTIFICATIONS_PATH: Final = "/notifications"

SESSION_COOKIE: Final = "JSESSIONID"
CSRF_HEADER_NAME_HEADER: Final = "X-CSRF-HEADER"
CSRF_TOKEN_HEADER: Final = "X-CSRF-TOKEN"
CSRF_REJECTION_TEXT: Final = "Missing or invalid Csrf token"

# CometD channels
CHANNEL_OUTBOUND: Final = "/v2/me/outbound"
CHANNEL_INTERNAL: Final = "/me/internal"
CHANNEL_DEVICES: Final = "/v2/me/devices"
CHANNEL_CALLS: Final = "/v2/me/calls"
CHANNEL_ME: Final = "/v2/me"
META_PREFIX: Final = "/meta/"
META_HANDSHAKE: Final = "/meta/handshake"
META_CONNECT: Final = "/meta/connect"
META_SUBSCRIBE: Final = "/meta/subscribe"
META_UNSUBSCRIBE: Final = "/meta/unsubscribe"
META_DISCONNECT: Final = "/meta/disconnect"

# messageType values
OUTBOUND_RECORD_MESSAGE: Final = "OutboundRecordMessage"
OUTBOUND_CAMPAIGN_MESSAGE: Final = "OutboundCampaignMessage"
DEVICE_USER_EVENT_MESSAGE: Final = "DeviceUserEventMessage"

# operationName / notificationType values
GET_CHAINED_RECORD: Final = "GetChainedRecord"
START_CONTACT_CENTER_SESSION: Final = "StartContactCenterSession"
END_CONTACT_CENTER_SESSION: Final = "EndContactCenterSession"
CHAINED_RECORD: Final = "ChainedRecord"
CHAINED_RECORDS_DATA_END: Final = "ChainedRecordsDataEnd"
ERROR_NOTIFICATION: Final = "Error"

OUTBOUND_OPERATIONS: Final = (
    "GetChainedRecord",
    "CompleteRecord",
    "UpdateRecord",
    "RejectRecord",
    "RescheduleRecord",
    "DoNotCallRecord",
    "AddRecord",
    "StartPreviewSession",
    "EndPreviewSession",
    "GetPreviewRecord",
)

# statusCode values [doc: ReturnValues]
STATUS_OK: Final = 0
STATUS_MISSING_PARAMETER: Final = 1
STATUS_INVALID_STATE: Final = 2
STATUS_FORBIDDEN: Final = 3
STATUS_INTERNAL_ERROR: Final = 4
STATUS_NO_PERMISSION: Final = 5
STATUS_NOT_FOUND: Final = 6
STATUS_PARTIAL_SUCCESS: Final = 7
STATUS_PASSWORD_CHANGE: Final = 8
STATUS_INCOMPLETE: Final = 9
STATUS_INVALID_VALUE: Final = 10
STATUS_READ_ONLY: Final = 11
STATUS_ALREADY_EXISTS: Final = 18
STATUS_ALREADY_IN_USE: Final = 19
STATUS_NOT_AUTHENTICATED: Final = 20

STATUS_MESSAGES: Final[dict[int, str]] = {
    0: "Success",
    1: "Required parameter missing",
    2: "Parameter not valid for the current state",
    3: "Forbidden",
    4: "Internal error",
    5: "No permission",
    6: "Resource not found",
    7: "Partial success",
    8: "Password change demanded",
    9: "Processing incomplete",
    10: "Input validation error",
    11: "Read-only property",
    12: "Unable to retrieve resource",
    13: "Unable to create resource",
    14: "Unable to delete resource",
    15: "Unable to update resource",
    16: "Unable to assign resource",
    17: "Unable to unassign resource",
    18: "Already exists",
    19: "Already in use",
    20: "Not authenticated",
}

#: errorCode of an asynchronous ``Error`` notification -> what it means: the sandbox's own codes
#: (docs/record-operations.md, "Asynchronous errors"); a real OCS may number its errors otherwise, and its
#: errorMessage says what went wrong in its words
OCS_ERROR_CODES: Final[dict[int, str]] = {
    101: "Record not found: the record handle is unknown to OCS",
    102: "Campaign not found: no loaded campaign has this name",
    103: "Application not found: the application id is not OCS's",
    104: "Injected error: the sandbox's fault switch error_handles names the handle",
    105: "Record not held by this agent: the operation needs the record held by the caller's device",
    106: "Record already processed: the record is final (Updated, Cancelled, Chain Updated, or No Call)",
    107: "Calling list not found: the list is not the campaign's, or not the record's",
    108: "No preview session: GetPreviewRecord before StartPreviewSession, or the campaign not in Preview mode",
    109: "Chain not found: AddRecord's chainId is no chain of the list",
    110: "Invalid value: a time zone OCS does not know",
}


def ocs_error_meaning(code: object) -> str | None:
    """What the ``errorCode`` of an Error notification means (:data:`OCS_ERROR_CODES`), ``None`` when the
    code is not in the table (codes come as integers or text)."""
    try:
        return OCS_ERROR_CODES.get(int(str(code)))
    except ValueError:
        return None


# OCS calling-list columns carried in ChainedRecord userData (docs/notifications.md#chainedrecord-one-per-record)
OCS_COLUMNS: Final = (
    "contact_info",
    "contact_info_type",
    "record_type",
    "record_status",
    "call_result",
    "attempt",
    "dial_sched_time",
    "call_time",
    "daily_from",
    "daily_till",
    "tz_dbid",
    "chain_id",
    "chain_n",
)
