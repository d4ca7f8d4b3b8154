"""Caliper 1.2 vocabularies: actions, profiles, LIS roles and statuses, metrics, LTI message types, identifier types.

Each vocabulary is registered under its name with :func:`register_vocabulary`, so model fields (typed
``Annotated[str, Vocab(name)]``) accept its terms and extensions can add theirs. The ``str`` enums are conveniences
for callers: ``Action.VIEWED == "Viewed"``, and an enum member can be passed wherever a term is expected.
"""

from __future__ import annotations

from enum import Enum

from .._base import register_vocabulary

__all__ = [
    "ACTION_ALIASES",
    "term",
    "term_list",
    "term_or_none",
    "Action",
    "LtiMessageType",
    "Metric",
    "Profile",
    "Role",
    "Status",
    "SystemIdentifierType",
]


class Action(str, Enum):
    """The 80 Caliper 1.2 actions, spelled as the conformance fixtures spell them."""

    ABANDONED = "Abandoned"
    ACCEPTED = "Accepted"
    ACTIVATED = "Activated"
    ADDED = "Added"
    ARCHIVED = "Archived"
    ATTACHED = "Attached"
    BOOKMARKED = "Bookmarked"
    CHANGED_RESOLUTION = "ChangedResolution"
    CHANGED_SIZE = "ChangedSize"
    CHANGED_SPEED = "ChangedSpeed"
    CHANGED_VOLUME = "ChangedVolume"
    CLASSIFIED = "Classified"
    CLOSED_POPOUT = "ClosedPopout"
    COMMENTED = "Commented"
    COMPLETED = "Completed"
    COPIED = "Copied"
    CREATED = "Created"
    DEACTIVATED = "Deactivated"
    DECLINED = "Declined"
    DELETED = "Deleted"
    DESCRIBED = "Described"
    DISABLED_CLOSED_CAPTIONING = "DisabledClosedCaptioning"
    DISLIKED = "Disliked"
    DOWNLOADED = "Downloaded"
    ENABLED_CLOSED_CAPTIONING = "EnabledClosedCaptioning"
    ENDED = "Ended"
    ENTERED_FULL_SCREEN = "EnteredFullScreen"
    EXITED_FULL_SCREEN = "ExitedFullScreen"
    FORWARDED_TO = "ForwardedTo"
    GRADED = "Graded"
    HID = "Hid"
    HIGHLIGHTED = "Highlighted"
    IDENTIFIED = "Identified"
    JUMPED_TO = "JumpedTo"
    LAUNCHED = "Launched"
    LIKED = "Liked"
    LINKED = "Linked"
    LOGGED_IN = "LoggedIn"
    LOGGED_OUT = "LoggedOut"
    MARKED_AS_READ = "MarkedAsRead"
    MARKED_AS_UNREAD = "MarkedAsUnread"
    MODIFIED = "Modified"
    MUTED = "Muted"
    NAVIGATED_TO = "NavigatedTo"
    OPENED_POPOUT = "OpenedPopout"
    OPTED_IN = "OptedIn"
    OPTED_OUT = "OptedOut"
    PAUSED = "Paused"
    POSTED = "Posted"
    PRINTED = "Printed"
    PUBLISHED = "Published"
    QUESTIONED = "Questioned"
    RANKED = "Ranked"
    RECOMMENDED = "Recommended"
    REMOVED = "Removed"
    RESET = "Reset"
    RESTARTED = "Restarted"
    RESTORED = "Restored"
    RESUMED = "Resumed"
    RETRIEVED = "Retrieved"
    RETURNED = "Returned"
    REVIEWED = "Reviewed"
    REWOUND = "Rewound"
    SAVED = "Saved"
    SEARCHED = "Searched"
    SENT = "Sent"
    SHARED = "Shared"
    SHOWED = "Showed"
    SKIPPED = "Skipped"
    STARTED = "Started"
    SUBMITTED = "Submitted"
    SUBSCRIBED = "Subscribed"
    TAGGED = "Tagged"
    TIMED_OUT = "TimedOut"
    UNMUTED = "Unmuted"
    UNPUBLISHED = "Unpublished"
    UNSUBSCRIBED = "Unsubscribed"
    UPLOADED = "Uploaded"
    USED = "Used"
    VIEWED = "Viewed"


ACTION_ALIASES: dict[str, str] = {
    "EnabledCloseCaptioning": Action.ENABLED_CLOSED_CAPTIONING.value,
    "DisabledCloseCaptioning": Action.DISABLED_CLOSED_CAPTIONING.value,
    "MarkedAsUnRead": Action.MARKED_AS_UNREAD.value,
}
"""Other spellings in circulation -> the fixture spelling. The JSON-LD context drops the "d" of "Closed"; the spec
text writes ``MarkedAsUnRead``. Both are accepted on input and kept as read; constants emit the fixture spelling."""


class Profile(str, Enum):
    """The Caliper 1.2 profiles (``SurveyProfile`` is used by the spec and fixtures but missing from the context)."""

    GENERAL = "GeneralProfile"
    ANNOTATION = "AnnotationProfile"
    ASSESSMENT = "AssessmentProfile"
    ASSIGNABLE = "AssignableProfile"
    FEEDBACK = "FeedbackProfile"
    FORUM = "ForumProfile"
    GRADING = "GradingProfile"
    MEDIA = "MediaProfile"
    READING = "ReadingProfile"
    RESOURCE_MANAGEMENT = "ResourceManagementProfile"
    SEARCH = "SearchProfile"
    SESSION = "SessionProfile"
    SURVEY = "SurveyProfile"
    TOOL_LAUNCH = "ToolLaunchProfile"
    TOOL_USE = "ToolUseProfile"


class Role(str, Enum):
    """LIS membership roles and sub-roles (``Manager#Manager`` is in the spec, ``Mentor#Auditor`` in the context)."""

    ADMINISTRATOR = "Administrator"
    ADMINISTRATOR_ADMINISTRATOR = "Administrator#Administrator"
    ADMINISTRATOR_DEVELOPER = "Administrator#Developer"
    ADMINISTRATOR_EXTERNAL_DEVELOPER = "Administrator#ExternalDeveloper"
    ADMINISTRATOR_EXTERNAL_SUPPORT = "Administrator#ExternalSupport"
    ADMINISTRATOR_EXTERNAL_SYSTEM_ADMINISTRATOR = "Administrator#ExternalSystemAdministrator"
    ADMINISTRATOR_SUPPORT = "Administrator#Support"
    ADMINISTRATOR_SYSTEM_ADMINISTRATOR = "Administrator#SystemAdministrator"
    CONTENT_DEVELOPER = "ContentDeveloper"
    CONTENT_DEVELOPER_CONTENT_DEVELOPER = "ContentDeveloper#ContentDeveloper"
    CONTENT_DEVELOPER_CONTENT_EXPERT = "ContentDeveloper#ContentExpert"
    CONTENT_DEVELOPER_EXTERNAL_CONTENT_EXPERT = "ContentDeveloper#ExternalContentExpert"
    CONTENT_DEVELOPER_LIBRARIAN = "ContentDeveloper#Librarian"
    INSTRUCTOR = "Instructor"
    INSTRUCTOR_EXTERNAL_INSTRUCTOR = "Instructor#ExternalInstructor"
    INSTRUCTOR_GRADER = "Instructor#Grader"
    INSTRUCTOR_GUEST_INSTRUCTOR = "Instructor#GuestInstructor"
    INSTRUCTOR_INSTRUCTOR = "Instructor#Instructor"
    INSTRUCTOR_LECTURER = "Instructor#Lecturer"
    INSTRUCTOR_PRIMARY_INSTRUCTOR = "Instructor#PrimaryInstructor"
    INSTRUCTOR_SECONDARY_INSTRUCTOR = "Instructor#SecondaryInstructor"
    INSTRUCTOR_TEACHING_ASSISTANT = "Instructor#TeachingAssistant"
    INSTRUCTOR_TEACHING_ASSISTANT_GROUP = "Instructor#TeachingAssistantGroup"
    INSTRUCTOR_TEACHING_ASSISTANT_OFFERING = "Instructor#TeachingAssistantOffering"
    INSTRUCTOR_TEACHING_ASSISTANT_SECTION = "Instructor#TeachingAssistantSection"
    INSTRUCTOR_TEACHING_ASSISTANT_TEMPLATE = "Instructor#TeachingAssistantTemplate"
    LEARNER = "Learner"
    LEARNER_EXTERNAL_LEARNER = "Learner#ExternalLearner"
    LEARNER_GUEST_LEARNER = "Learner#GuestLearner"
    LEARNER_LEARNER = "Learner#Learner"
    LEARNER_NON_CREDIT_LEARNER = "Learner#NonCreditLearner"
    MANAGER = "Manager"
    MANAGER_AREA_MANAGER = "Manager#AreaManager"
    MANAGER_COURSE_COORDINATOR = "Manager#CourseCoordinator"
    MANAGER_EXTERNAL_OBSERVER = "Manager#ExternalObserver"
    MANAGER_MANAGER = "Manager#Manager"
    MANAGER_OBSERVER = "Manager#Observer"
    MEMBER = "Member"
    MEMBER_MEMBER = "Member#Member"
    MENTOR = "Mentor"
    MENTOR_ADVISOR = "Mentor#Advisor"
    MENTOR_AUDITOR = "Mentor#Auditor"
    MENTOR_EXTERNAL_ADVISOR = "Mentor#ExternalAdvisor"
    MENTOR_EXTERNAL_AUDITOR = "Mentor#ExternalAuditor"
    MENTOR_EXTERNAL_LEARNING_FACILITATOR = "Mentor#ExternalLearningFacilitator"
    MENTOR_EXTERNAL_MENTOR = "Mentor#ExternalMentor"
    MENTOR_EXTERNAL_REVIEWER = "Mentor#ExternalReviewer"
    MENTOR_EXTERNAL_TUTOR = "Mentor#ExternalTutor"
    MENTOR_LEARNING_FACILITATOR = "Mentor#LearningFacilitator"
    MENTOR_MENTOR = "Mentor#Mentor"
    MENTOR_REVIEWER = "Mentor#Reviewer"
    MENTOR_TUTOR = "Mentor#Tutor"
    OFFICER = "Officer"
    OFFICER_CHAIR = "Officer#Chair"
    OFFICER_SECRETARY = "Officer#Secretary"
    OFFICER_TREASURER = "Officer#Treasurer"
    OFFICER_VICE_CHAIR = "Officer#Vice-Chair"


class Status(str, Enum):
    """LIS membership statuses."""

    ACTIVE = "Active"
    INACTIVE = "Inactive"


class Metric(str, Enum):
    """What an ``AggregateMeasure`` measures."""

    ASSESSMENTS_SUBMITTED = "AssessmentsSubmitted"
    ASSESSMENTS_PASSED = "AssessmentsPassed"
    MINUTES_ON_TASK = "MinutesOnTask"
    SKILLS_MASTERED = "SkillsMastered"
    STANDARDS_MASTERED = "StandardsMastered"
    UNITS_COMPLETED = "UnitsCompleted"
    UNITS_PASSED = "UnitsPassed"
    WORDS_READ = "WordsRead"


class LtiMessageType(str, Enum):
    """LTI message types an ``LtiLink`` can be reached with."""

    LTI_RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
    LTI_DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"


class SystemIdentifierType(str, Enum):
    """Kinds of ``SystemIdentifier`` (``CaseItemUri`` appears only in the JSON-LD context)."""

    ACCOUNT_USER_NAME = "AccountUserName"
    CASE_ITEM_URI = "CaseItemUri"
    EMAIL_ADDRESS = "EmailAddress"
    LIS_SOURCED_ID = "LisSourcedId"
    LTI_CONTEXT_ID = "LtiContextId"
    LTI_DEPLOYMENT_ID = "LtiDeploymentId"
    LTI_PLATFORM_ID = "LtiPlatformId"
    LTI_TOOL_ID = "LtiToolId"
    LTI_USER_ID = "LtiUserId"
    ONE_ROSTER_SOURCED_ID = "OneRosterSourcedId"
    OTHER = "Other"
    SIS_SOURCED_ID = "SisSourcedId"
    SYSTEM_ID = "SystemId"


def term(value: str) -> str:
    """A vocabulary field's converter: an enum member becomes its plain string, anything else is kept as given."""
    # The wire and the validator want plain strings; keeping the member would leak `<Action.VIEWED: 'Viewed'>`
    # into to_dict() and into anything that checks `type(value) is str`.
    return value.value if isinstance(value, Enum) else value


def term_or_none(value: str | None) -> str | None:
    """:func:`term` for an optional field."""
    return None if value is None else term(value)


def term_list(value: list[str] | None) -> list[str] | None:
    """:func:`term` for each item of an optional list (anything that is not a list is kept, for the validator)."""
    return [term(v) for v in value] if isinstance(value, list) else value


register_vocabulary("action", *(a.value for a in Action), *ACTION_ALIASES)
register_vocabulary("profile", *(p.value for p in Profile))
register_vocabulary("role", *(r.value for r in Role))
register_vocabulary("status", *(s.value for s in Status))
register_vocabulary("metric", *(m.value for m in Metric))
register_vocabulary("lti_message_type", *(t.value for t in LtiMessageType))
register_vocabulary("system_identifier_type", *(t.value for t in SystemIdentifierType))
