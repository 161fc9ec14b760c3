"""Agents authenticate with `Authorization: Bearer <key>`; keys are stored hashed."""

from rest_framework import authentication, exceptions, permissions

from .models import AgentKey
from .services import key_hash


class AgentKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <key>'.")
        agent = AgentKey.objects.filter(key_hash=key_hash(header[1]), revoked_at=None).first()
        if agent is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked agent key.")
        return agent, None

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to unauthenticated calls.
        return f'{self.keyword} realm="api"'


class IsOperator(permissions.BasePermission):
    """Operator agent keys and staff users may change provider state."""

    message = "This action needs an operator key or a staff account."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and (getattr(user, "is_operator", False) or getattr(user, "is_staff", False)))

