from __future__ import annotations

from lib.errors import PortalError


class AuthError(PortalError):
    """Base of the auth capability's errors."""


class UsernameTaken(AuthError):
    status_code = 409
    code = "username_taken"

    def __init__(self) -> None:
        super().__init__("That username is taken.", fields={"username": "is already taken"})


class EmailTaken(AuthError):
    status_code = 409
    code = "email_taken"

    def __init__(self) -> None:
        super().__init__(
            "An account with that e-mail address exists.",
            fields={"email": "is already registered"},
        )


class InvalidCredentials(AuthError):
    status_code = 401
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("The username, e-mail or password is not right.")


class AccountDisabled(AuthError):
    status_code = 403
    code = "account_disabled"

    def __init__(self) -> None:
        super().__init__("This account has been deactivated. Contact an administrator.")


class RefreshRejected(AuthError):
    status_code = 401
    code = "not_authenticated"

    def __init__(self, message: str = "Your session has ended. Sign in again.") -> None:
        super().__init__(message)


class CannotChangeSelf(AuthError):
    status_code = 409
    code = "cannot_change_self"

    def __init__(self) -> None:
        super().__init__("Administrators cannot change their own role or deactivate themselves.")


class EmailNotVerified(AuthError):
    status_code = 403
    code = "email_not_verified"

    def __init__(self) -> None:
        super().__init__(
            "Confirm your e-mail address before paying: open the link we e-mailed you, "
            "or ask for a new one."
        )


class AlreadyVerified(AuthError):
    status_code = 409
    code = "already_verified"

    def __init__(self) -> None:
        super().__init__("Your e-mail address is already confirmed.")


class InvalidLink(AuthError):
    status_code = 400
    code = "invalid_link"

    def __init__(self) -> None:
        super().__init__(
            "This link does not work any more: it has expired, was used already, "
            "or belongs to an older e-mail address. Ask for a new one."
        )
