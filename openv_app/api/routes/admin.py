"""Running the instance (admins only): users, vouchers, jobs in flight, the endpoint's health,
the audit log. Anyone else, signed in or not, gets the same 404 as for a path that does not
exist, so these routes give nothing away; for the same reason they are not in the public
OpenAPI schema (README's API table documents them)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials

from openv_app.api.deps import JSON_ONLY, Service, bearer, declared_body, parsed_body
from openv_app.api.errors import errors
from openv_app.models import AuditEntry, Voucher
from openv_app.schemas import VideoOut
from openv_app.services.admin import Admin, JobInFlight, UserChanges, UserOverview
from openv_app.services.auth import resolve_user
from openv_app.services.errors import AuthError, NotFound
from openv_app.services.views import owner_view
from openv_app.services.vouchers import VoucherSpec

router = APIRouter(prefix="/api/admin", tags=["admin"], include_in_schema=False)


async def admin_caller(
    service: Service, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    try:
        user = await resolve_user(service.settings, credentials.credentials if credentials else None)
    except AuthError as error:
        raise NotFound("not found") from error
    await Admin(service).require_admin(user)
    return user


Actor = Annotated[str, Depends(admin_caller)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@router.get("/users", response_model=list[UserOverview], responses=errors(404))
async def list_users(actor: Actor, service: Service, limit: Limit = 200, offset: Offset = 0) -> list[UserOverview]:
    """Users, newest first, with role, limits, GPU seconds today and this month, jobs by status."""
    return await Admin(service).users(limit, offset)


@router.patch(
    "/users/{user_id}",
    response_model=UserOverview,
    dependencies=JSON_ONLY,
    openapi_extra=declared_body(UserChanges),
    responses=errors(404, 409, 413, 415),
)
async def change_user(user_id: str, request: Request, actor: Actor, service: Service) -> UserOverview:
    """Set role, limit overrides (null: the instance's setting) or `disabled` (cancels their jobs)."""
    changes = await parsed_body(request, UserChanges)
    return await Admin(service).change_user(actor, user_id, changes)


@router.get("/vouchers", response_model=list[Voucher], responses=errors(404))
async def list_vouchers(actor: Actor, service: Service) -> list[Voucher]:
    return await Admin(service).vouchers.all()


@router.post(
    "/vouchers",
    status_code=201,
    response_model=Voucher,
    dependencies=JSON_ONLY,
    openapi_extra=declared_body(VoucherSpec),
    responses=errors(404, 409, 413, 415),
)
async def create_voucher(request: Request, actor: Actor, service: Service) -> Voucher:
    """A new code (random unless `code` is given) with `max_uses` and an optional expiry."""
    spec = await parsed_body(request, VoucherSpec)
    return await Admin(service).create_voucher(actor, spec)


@router.delete("/vouchers/{code}", response_model=Voucher, responses=errors(404))
async def revoke_voucher(code: str, actor: Actor, service: Service) -> Voucher:
    """Revoke a code: it cannot be redeemed from now on (accounts it upgraded stay)."""
    return await Admin(service).revoke_voucher(actor, code)


@router.get("/jobs", response_model=list[JobInFlight], responses=errors(404))
async def jobs_in_flight(actor: Actor, service: Service, limit: Limit = 200) -> list[JobInFlight]:
    """Every user's jobs in flight, oldest first."""
    return await Admin(service).jobs_in_flight(limit)


@router.post(
    "/jobs/{video_id}/cancel", response_model=VideoOut, dependencies=JSON_ONLY, responses=errors(404, 409, 415, 502)
)
async def cancel_job(video_id: str, actor: Actor, service: Service) -> VideoOut:
    return await owner_view(service, await Admin(service).cancel_job(actor, video_id))


@router.get("/endpoint", responses=errors(404, 502))
async def endpoint_health(actor: Actor, service: Service) -> dict[str, Any]:
    """Each offered model's RunPod endpoint `/health` (workers and jobs by state), `{model: health}`."""
    return await Admin(service).endpoint_health()


@router.get("/audit", response_model=list[AuditEntry], responses=errors(404))
async def audit_log(actor: Actor, service: Service, limit: Limit = 100) -> list[AuditEntry]:
    """The latest admin actions, newest first."""
    return await Admin(service).audit_log(limit)
