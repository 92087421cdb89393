"""The signed-in user's account: may they generate, the operator's terms, redeeming a voucher."""

from __future__ import annotations

from fastapi import APIRouter, Request

from openv_app.api.deps import JSON_ONLY, Service, User, declared_body, parsed_body
from openv_app.api.errors import errors
from openv_app.schemas import AccountOut, TermsAcceptance, TermsOut, VoucherCode
from openv_app.services.errors import NotFound
from openv_app.services.views import account_view
from openv_app.services.vouchers import Vouchers

router = APIRouter(prefix="/api", tags=["account"])


@router.get("/account", response_model=AccountOut, responses=errors(401, 503))
async def get_account(user: User, service: Service) -> AccountOut:
    """The caller's role, whether they may generate now (and if not, why), and their usage."""
    return await account_view(service, user)


@router.get("/terms", response_model=TermsOut, responses=errors(404))
async def get_terms(service: Service) -> TermsOut:
    """The operator's current terms of use; 404 when the instance has none."""
    terms = service.accounts.terms
    if terms is None:
        raise NotFound("this instance has no terms of use")
    return TermsOut(version=terms.version, text=terms.text)


@router.post(
    "/terms/accept",
    response_model=AccountOut,
    dependencies=JSON_ONLY,
    openapi_extra=declared_body(TermsAcceptance),
    responses=errors(401, 409, 413, 415, 503),
)
async def accept_terms(request: Request, user: User, service: Service) -> AccountOut:
    """Accept the current terms (409 if `version` is not the current one)."""
    acceptance = await parsed_body(request, TermsAcceptance)
    await service.accounts.accept_terms(user, acceptance.version)
    return await account_view(service, user)


@router.post(
    "/vouchers/redeem",
    response_model=AccountOut,
    dependencies=JSON_ONLY,
    openapi_extra=declared_body(VoucherCode),
    responses=errors(401, 409, 413, 415, 503),
)
async def redeem_voucher(request: Request, user: User, service: Service) -> AccountOut:
    """Redeem a voucher: a restricted account becomes a full one. 400 names why a code is not usable."""
    voucher = await parsed_body(request, VoucherCode)
    await Vouchers(service.db, service.accounts).redeem(user, voucher.code)
    return await account_view(service, user)
