import getpass
import os

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from orders.models import CustomerAccount

OPERATORS_GROUP = "operators"


def operators_group() -> Group:
    """Return the group whose members may see every order, creating it once."""
    group, _ = Group.objects.get_or_create(name=OPERATORS_GROUP)
    group.permissions.add(
        Permission.objects.get(
            content_type__app_label="orders", codename="view_any_order"
        )
    )
    return group


class Command(BaseCommand):
    help = (
        "Create an API account. An operator sees every order; a customer only the "
        "orders of one SalesAPI customer_id. The password is read from "
        "API_USER_PASSWORD when set, otherwise asked for."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=["operator", "customer"], required=True)
        parser.add_argument(
            "--customer-id", help="The SalesAPI customer_id (customers only)."
        )
        parser.add_argument("--email", default="")

    def handle(self, *args, username, role, customer_id, email, **options):
        if role == "customer" and not customer_id:
            raise CommandError("--customer-id is required for --role customer.")
        if role == "operator" and customer_id:
            raise CommandError("--customer-id applies to --role customer only.")
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"User {username!r} exists already.")

        password = os.environ.get("API_USER_PASSWORD") or self._ask_password()
        user = User(username=username, email=email)
        try:
            password_validation.validate_password(password, user)
        except ValidationError as err:
            raise CommandError("Password rejected: " + " ".join(err.messages)) from err

        with transaction.atomic():
            user.set_password(password)
            user.save()
            if role == "operator":
                user.groups.add(operators_group())
            else:
                CustomerAccount.objects.create(user=user, customer_id=customer_id)
        scope = "every order" if role == "operator" else f"customer {customer_id}"
        self.stdout.write(self.style.SUCCESS(f"Created {role} {username!r} ({scope})."))

    def _ask_password(self) -> str:
        try:
            first = getpass.getpass("Password: ")
            second = getpass.getpass("Password (again): ")
        except EOFError as err:
            raise CommandError(
                "No password: set API_USER_PASSWORD or run interactively."
            ) from err
        if first != second:
            raise CommandError("The passwords differ.")
        return first
