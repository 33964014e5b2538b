"""Generated SalesAPI orders: a steady, realistic stream for demos.

Content is deterministic for a seed: the n-th order of a stream is the same
every time. Order ids are not: they carry a prefix taken from the moment the
stream started, so a sandbox restarted against the same database never hands
out an order id it handed out before.
"""

import random
import string
import threading
import time

INITIAL_ORDERS = 5
CUSTOMER_COUNT = 48
FIRST_CUSTOMER_ID = 7001

# (product_id, product_name, product_price): prices as SalesAPI sends them,
# some whole roubles, some with kopecks.
CATALOG = (
    ("NB-1001", "Ноутбук", "50000"),
    ("SM-2040", "Смартфон", "32990.00"),
    ("HP-0310", "Наушники беспроводные", "4599.90"),
    ("CF-0007", "Кофе ☕ в зёрнах, 1 кг", "1299.90"),
    ("TE-0112", "Чай зелёный 🍵", "349.50"),
    ("BK-7781", "Книга «Мастер и Маргарита»", "689"),
    ("KB-0450", "Клавиатура механическая ⌨️", "7490.00"),
    ("MG-0021", "Кружка «Лучший папа» 🏆", "590"),
    ("LP-1203", "Лампа настольная 💡", "2150.75"),
    ("BP-3300", "Рюкзак городской 🎒", "3990.00"),
    ("PN-0099", "Ручка шариковая", "45.90"),
    ("CH-5500", "Кресло офисное", "15999.99"),
)

MALE_FIRST_NAMES = (
    "Иван", "Пётр", "Алексей", "Дмитрий", "Сергей",
    "Михаил", "Андрей", "Николай", "Артём", "Григорий",
)  # fmt: skip
FEMALE_FIRST_NAMES = (
    "Анна", "Мария", "Елена", "Ольга", "Наталья",
    "Татьяна", "Ксения", "Дарья", "Екатерина", "Юлия",
)  # fmt: skip
# Surnames in their masculine form; the feminine one is derived.
SURNAMES = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев",
    "Козлов", "Новиков", "Морозов", "Волков", "Соловьёв", "Васильев",
    "Зайцев", "Семёнов", "Фёдоров", "Покровский", "Вишневский",
)  # fmt: skip

TRANSLITERATION = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e",
    "ж": "zh", "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m",
    "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip

# Only the reserved example domains: generated customers must never be real.
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

# Shop front-ends write Russian phone numbers every which way; the service has
# to cope with all of them. Each takes the ten national digits.
PHONE_FORMATS = (
    lambda d: f"+7 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
    lambda d: f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
    lambda d: f"8-{d[:3]}-{d[3:6]}-{d[6:8]}-{d[8:]}",
    lambda d: f"+7{d}",
)


_last_stamp = 0
_stamp_lock = threading.Lock()


def order_id_prefix_new() -> str:
    """Return a prefix no earlier stream has used: the start time in ms."""
    global _last_stamp
    # Two streams started within the same millisecond (tests do) still differ.
    with _stamp_lock:
        _last_stamp = max(time.time_ns() // 1_000_000, _last_stamp + 1)
        return base36(_last_stamp)


def transliterate(text: str) -> str:
    """Return ``text`` in lower-case Latin letters, for e-mail addresses."""
    return "".join(TRANSLITERATION.get(char, char) for char in text.lower())


def feminine_surname(surname: str) -> str:
    """Return the feminine form of a masculine Russian surname."""
    if surname.endswith("ий"):
        return surname[:-2] + "ая"
    return surname + "а"


def base36(number: int) -> str:
    """Return ``number`` written in base 36, upper case."""
    digits = string.digits + string.ascii_uppercase
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if not number:
            return text


def customer_generate(rng: random.Random, customer_id: str) -> dict:
    """Return one customer's fields, as SalesAPI names them."""
    surname = rng.choice(SURNAMES)
    if rng.random() < 0.5:
        first_name = rng.choice(MALE_FIRST_NAMES)
    else:
        first_name = rng.choice(FEMALE_FIRST_NAMES)
        surname = feminine_surname(surname)

    first, last = transliterate(first_name), transliterate(surname)
    local_part = rng.choice(
        (f"{first}.{last}", f"{first[0]}.{last}{rng.randint(1, 99)}", f"{last}_{first}")
    )
    # Mobile numbers: ten national digits starting with 9.
    national_number = "9" + "".join(rng.choice(string.digits) for _ in range(9))
    return {
        "customer_id": customer_id,
        "customer_name": f"{first_name} {surname}",
        "customer_email": f"{local_part}@{rng.choice(EMAIL_DOMAINS)}",
        "customer_phone": rng.choice(PHONE_FORMATS)(national_number),
    }


class OrderStream:
    """Orders that become available over time, ``orders_per_minute`` a minute."""

    def __init__(
        self,
        *,
        seed=None,
        orders_per_minute: float = 60,
        initial_orders: int = INITIAL_ORDERS,
        order_id_prefix: str | None = None,
        clock=time.monotonic,
    ):
        if orders_per_minute < 0:
            raise ValueError("orders_per_minute must not be negative")
        self.seed = random.randrange(2**32) if seed is None else seed
        self.orders_per_minute = orders_per_minute
        self.initial_orders = initial_orders
        self.order_id_prefix = order_id_prefix or order_id_prefix_new()
        self.clock = clock
        self.started = clock()
        self.customers = [
            customer_generate(
                random.Random(f"{self.seed}:customer:{number}"),
                str(FIRST_CUSTOMER_ID + number),
            )
            for number in range(CUSTOMER_COUNT)
        ]

    def available(self) -> int:
        """Return how many orders have been sold so far."""
        elapsed = max(0.0, self.clock() - self.started)
        return self.initial_orders + int(elapsed * self.orders_per_minute / 60)

    def order(self, index: int) -> dict:
        """Return the order at ``index`` (from 0), every value a string."""
        rng = random.Random(f"{self.seed}:order:{index}")
        product_id, product_name, product_price = rng.choice(CATALOG)
        # A few customers buy often, as in any shop.
        customer = self.customers[min(int(rng.expovariate(1 / 12)), CUSTOMER_COUNT - 1)]
        return {
            "order_id": f"{self.order_id_prefix}-{index + 1:06d}",
            "product_id": product_id,
            "product_name": product_name,
            "product_price": product_price,
            "quantity": str(rng.choice((1, 1, 1, 2, 2, 3, 4, 5))),
            **customer,
        }

    def orders(self, start: int, stop: int) -> list[dict]:
        """Return the orders from ``start`` up to, not including, ``stop``."""
        return [self.order(index) for index in range(start, stop)]
