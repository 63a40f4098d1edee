from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from functions.catalog import answers, listing, seats, service, waitlist
from functions.catalog.schemas import (
    CourseEnvelope,
    CourseIn,
    CoursePage,
    CoursePatch,
    EnrollmentEnvelope,
    EnrollmentPage,
    MoneyIn,
    RosterEntryOut,
    RosterPage,
    ScheduleIn,
    StudentOut,
    course_out,
    enrollment_out,
)
from lib.http import ANYONE, SIGNED_IN, Call, JSONBytes, endpoint, only
from lib.httpcache import PUBLIC_CATALOG
from lib.pagination import parse_limit
from lib.security import Role

COURSE_QUERY = [
    "q", "instructor", "status", "weekday", "min_price", "max_price", "sort", "cursor", "limit",
    "include_archived",
]  # fmt: skip


def _spec(body: CourseIn | CoursePatch) -> service.CourseSpec:
    schedule: ScheduleIn | None = body.schedule
    price: MoneyIn | None = body.price
    return service.CourseSpec(
        code=body.code,
        title=body.title,
        description=body.description,
        instructor_id=body.instructor_id,
        starts_on=schedule.starts_on if schedule else None,
        ends_on=schedule.ends_on if schedule else None,
        # A change that moves the dates without listing sessions keeps the sessions.
        sessions=[
            service.SessionSpec(s.weekday, s.start_time, s.end_time, s.location)
            for s in schedule.sessions
        ]
        if schedule and "sessions" in schedule.model_fields_set
        else None,
        capacity=body.capacity,
        price_amount=price.amount if price else None,
        currency=price.currency if price else None,
        payment_due_days=body.payment_due_days,
        enrollment_opens_on=body.enrollment_opens_on,
        enrollment_closes_on=body.enrollment_closes_on,
    )


@endpoint(
    ANYONE,
    response=CoursePage,
    query=COURSE_QUERY,
    errors=[422],
    summary="Search and filter the catalog",
    cache=PUBLIC_CATALOG,
)
async def list_courses(call: Call[None]) -> Response:
    body = await answers.course_page(
        call.session, call.portal.caches["catalog"],
        listing.CourseFilter(
            text=call.query("q"), instructor_id=call.query("instructor"),
            status=call.query("status"), weekday=call.query("weekday"),
            min_price=call.query("min_price"), max_price=call.query("max_price"),
            sort=call.query("sort"), cursor=call.query("cursor"),
            limit=parse_limit(call.query("limit")),
            include_archived=call.query("include_archived") in {"1", "true"},
        ),
        viewer=call.user, now=call.now,
    )  # fmt: skip
    return JSONBytes(body)


@endpoint(ANYONE, response=CourseEnvelope, errors=[404], summary="One course", cache=PUBLIC_CATALOG)
async def get_course(call: Call[None]) -> Response:
    body = await answers.course(
        call.session, call.portal.caches["catalog"], call.path("id"), viewer=call.user, now=call.now
    )
    return JSONBytes(body)


@endpoint(
    only(Role.ADMIN),
    body=CourseIn,
    response=CourseEnvelope,
    status=201,
    errors=[409, 422],
    summary="Create a course",
)
async def create_course(call: Call[CourseIn]) -> CourseEnvelope:
    view = await service.create_course(
        call.session, _spec(call.body), now=call.now, viewer=call.user
    )
    return CourseEnvelope(course=course_out(view))


@endpoint(
    only(Role.ADMIN),
    body=CoursePatch,
    response=CourseEnvelope,
    errors=[404, 409, 422],
    summary="Change a course (capacity never below the seats taken)",
)
async def update_course(call: Call[CoursePatch]) -> CourseEnvelope:
    view = await service.update_course(
        call.session, call.path("id"), _spec(call.body), now=call.now, viewer=call.user
    )
    return CourseEnvelope(course=course_out(view))


@endpoint(
    only(Role.ADMIN),
    response=CourseEnvelope,
    errors=[404],
    summary="Archive a course: it leaves the catalog and keeps its history",
)
async def archive_course(call: Call[None]) -> CourseEnvelope:
    view = await service.archive_course(
        call.session, call.path("id"), now=call.now, viewer=call.user
    )
    return CourseEnvelope(course=course_out(view))


@endpoint(
    only(Role.STUDENT),
    response=EnrollmentEnvelope,
    status=201,
    errors=[404, 409],
    summary="Enroll in one course: free ones at once; a paid one holds a seat with a payment",
)
async def enroll(call: Call[None]) -> EnrollmentEnvelope:
    enrollment = await seats.enroll(
        call.session, student_id=call.me.id, course_id=call.path("id"), now=call.now
    )
    return EnrollmentEnvelope(enrollment=enrollment_out(enrollment))


@endpoint(
    only(Role.STUDENT),
    response=EnrollmentEnvelope,
    status=201,
    errors=[404, 409],
    summary="Join a full course's waitlist",
)
async def join_waitlist(call: Call[None]) -> EnrollmentEnvelope:
    enrollment, position = await waitlist.join_waitlist(
        call.session, student_id=call.me.id, course_id=call.path("id"), now=call.now
    )
    return EnrollmentEnvelope(enrollment=enrollment_out(enrollment, position=position))


@endpoint(
    only(Role.STUDENT),
    response=EnrollmentEnvelope,
    errors=[404],
    summary="Leave a course's waitlist",
)
async def leave_waitlist(call: Call[None]) -> EnrollmentEnvelope:
    enrollment = await waitlist.leave_waitlist(
        call.session, student_id=call.me.id, course_id=call.path("id"), now=call.now
    )
    return EnrollmentEnvelope(enrollment=enrollment_out(enrollment))


@endpoint(
    SIGNED_IN,
    response=EnrollmentPage,
    query=["course_id", "cursor", "limit"],
    errors=[403, 404, 422],
    summary="My enrollments; a course's for its instructor or an administrator",
)
async def list_enrollments(call: Call[None]) -> EnrollmentPage:
    limit = parse_limit(call.query("limit"))
    if course_id := call.query("course_id"):
        entries, next_cursor = await listing.roster(
            call.session, call.me, course_id, cursor=call.query("cursor"), limit=limit
        )
        items = [enrollment_out(e.enrollment, position=e.position) for e in entries]
        return EnrollmentPage(items=items, next_cursor=next_cursor)
    views, next_cursor = await listing.my_enrollments(
        call.session, call.me, cursor=call.query("cursor"), limit=limit, now=call.now
    )
    items = [enrollment_out(v.enrollment, position=v.position, course=v.course) for v in views]
    return EnrollmentPage(items=items, next_cursor=next_cursor)


@endpoint(
    only(Role.STUDENT, Role.ADMIN),
    response=EnrollmentEnvelope,
    errors=[404, 409],
    summary="Drop an enrollment; the seat goes to the waitlist",
)
async def drop_enrollment(call: Call[None]) -> EnrollmentEnvelope:
    enrollment = await seats.drop(call.session, call.me, call.path("id"), now=call.now)
    return EnrollmentEnvelope(enrollment=enrollment_out(enrollment))


@endpoint(
    only(Role.INSTRUCTOR, Role.ADMIN),
    response=RosterPage,
    query=["cursor", "limit"],
    errors=[403, 404],
    summary="A course's roster",
)
async def roster(call: Call[None]) -> RosterPage:
    entries, next_cursor = await listing.roster(
        call.session, call.me, call.path("id"),
        cursor=call.query("cursor"), limit=parse_limit(call.query("limit")),
    )  # fmt: skip
    return RosterPage(
        items=[
            RosterEntryOut(
                enrollment=enrollment_out(e.enrollment, position=e.position),
                student=StudentOut(
                    id=e.student_id, username=e.username, full_name=e.full_name, email=e.email
                ),
            )
            for e in entries
        ],
        next_cursor=next_cursor,
    )


@endpoint(only(Role.INSTRUCTOR, Role.ADMIN), errors=[403, 404], summary="A course's roster as CSV")
async def roster_csv(call: Call[None]) -> Response:
    file = await listing.roster_csv(call.session, call.me, call.path("id"))
    return Response(
        file.text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


routes = [
    Route("/courses", list_courses, methods=["GET"]),
    Route("/courses", create_course, methods=["POST"]),
    Route("/courses/{id}", get_course, methods=["GET"]),
    Route("/courses/{id}", update_course, methods=["PATCH"]),
    Route("/courses/{id}/archive", archive_course, methods=["POST"]),
    Route("/courses/{id}/enroll", enroll, methods=["POST"]),
    Route("/courses/{id}/waitlist", join_waitlist, methods=["POST"]),
    Route("/courses/{id}/waitlist", leave_waitlist, methods=["DELETE"]),
    Route("/courses/{id}/roster", roster, methods=["GET"]),
    Route("/courses/{id}/roster.csv", roster_csv, methods=["GET"]),
    Route("/enrollments", list_enrollments, methods=["GET"]),
    Route("/enrollments/{id}/drop", drop_enrollment, methods=["POST"]),
]
