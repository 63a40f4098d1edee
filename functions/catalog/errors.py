from __future__ import annotations

from collections.abc import Sequence

from lib.errors import PortalError


class CatalogError(PortalError):
    """Base of the catalog's errors."""


class CourseNotFound(CatalogError):
    status_code = 404
    code = "not_found"

    def __init__(self) -> None:
        super().__init__("No such course.")


class EnrollmentNotFound(CatalogError):
    status_code = 404
    code = "not_found"

    def __init__(self) -> None:
        super().__init__("No such enrollment.")


class CodeTaken(CatalogError):
    status_code = 409
    code = "code_taken"

    def __init__(self) -> None:
        super().__init__("Another course has that code.", fields={"code": "is already used"})


class CapacityBelowTaken(CatalogError):
    status_code = 409
    code = "capacity_below_taken"

    def __init__(self, taken: int) -> None:
        super().__init__(
            f"{taken} seats are already taken; the capacity cannot be lower.",
            fields={"capacity": f"must be at least {taken}, the seats already taken"},
        )


class CourseFull(CatalogError):
    status_code = 409
    code = "course_full"

    def __init__(self, course_ids: Sequence[str], codes: Sequence[str]) -> None:
        self.course_ids = list(course_ids)
        names = ", ".join(codes)
        super().__init__(
            f"No seat is left in {names}.", fields={"course_ids": ",".join(self.course_ids)}
        )


class CourseClosed(CatalogError):
    status_code = 409
    code = "course_closed"

    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__(f"{', '.join(codes)} is not taking enrollments.")


class CourseNotFull(CatalogError):
    status_code = 409
    code = "course_not_full"

    def __init__(self) -> None:
        super().__init__("This course still has seats; enroll instead of joining the waitlist.")


class AlreadyEnrolled(CatalogError):
    status_code = 409
    code = "already_enrolled"

    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__(f"You are already enrolled or waitlisted in {', '.join(codes)}.")


class NotOnWaitlist(CatalogError):
    status_code = 404
    code = "not_on_waitlist"

    def __init__(self) -> None:
        super().__init__("You are not on this course's waitlist.")


class CannotDrop(CatalogError):
    status_code = 409
    code = "cannot_drop"
