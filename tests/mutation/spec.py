"""What each exercise's task text requires, and how the mutation harness checks each requirement.

For every exercise id (as in ``check("id", ...)``), three tables:

``REQUIREMENTS[id]``
    requirement name -> (what the task text states, [ids of the mutants that break it]).
    A mutant id is exact, or ends with ``*`` to match every id starting with the rest.
    tests/test_graders_mutation.py fails when an exercise has no requirements, when a
    requirement names no existing mutant, or when a mutant named here is not killed.

``TEXT_MUTANTS[id]``
    the exercise's own mutants, besides the generic operators of ``harness.py``:
    (mutant id, text of the reference answer, replacement). Every occurrence is replaced; the
    text must occur in the answer (a stale one fails the test: update it with the solution).

``EQUIVALENT[id]``
    {(mutant ids...): reason}: mutants that still meet everything the task states,
    reviewed by hand. The grader must ACCEPT them (rejecting a correct answer is a defect too).

To see the ids of an exercise's mutants and what the grader said about each:
    .venv/bin/python -m tests.mutation --show all 03-page-after
"""

from __future__ import annotations

COMMIT_READ = ("a COMMIT after a read-only query changes nothing the task states (nothing to "
               "commit; the objects are returned before anything expires them)")
NO_INDEX_RULE = ("the task states no index for this column; an extra index changes no result, "
                 "constraint or statement the task asks for")
NOT_STATED = "the task states nothing about this column's nullability or uniqueness"
PK_OPTIONAL = ("`Mapped[int | None]` on a primary key: the column stays NOT NULL (a primary key "
               "always is) and single-row INSERTs work as before")
GENERATOR = ("a generator over the fetched list yields the same objects in the same order; the graders "
             "take any iterable by design (a ScalarResult or a generator is consumed inside the session), "
             "so the task's 'list' is met in contents and order")
STATUS_SET = ("orders.status can only be pending, paid, shipped or cancelled (CHECK constraint): "
              "none contains, or starts with, another, and none has a LIKE wildcard, so contains/"
              "startswith/LIKE match exactly the rows == matches")

REQUIREMENTS: dict[str, dict[str, tuple[str, list[str]]]] = {
    # ---------------------------------------------------------------- lesson 00
    "00-count-customers": {
        "int": ("returns the number of customers as an int", ["returns a Row"]),
        "database counts": ("the database does the counting (no loading into Python)",
                            ["count in Python (len)", "highest id instead of COUNT"]),
        "one statement": ("in one statement", ["two statements"]),
        "all customers": ("the number of (all) customers, read from the database",
                          ["hard-coded number", "count one country only",
                           "count_customers: drop .select_from(Customer)"]),
    },
    # ---------------------------------------------------------------- lesson 01
    "01-product-model": {
        "table": ("maps the table products", ["table name products -> product"]),
        "id": ("id: integer primary key, no extra index on it", ["Product.id: add index=True"]),
        "sku type": ("sku: String(20), required", ["Product.sku: String(20) length + 10",
                                                   "Product.sku: String(20) -> Text",
                                                   "Product: Mapped[str] -> Optional"]),
        "sku unique": ("sku unique", ["Product.sku: drop unique=True", "Product.sku: unique=True -> False"]),
        "name": ("name: String(200), required", ["Product.name: String(200) length + 10",
                                                 "Product.name: String(200) -> Text",
                                                 "Product: Mapped[str] -> Optional #2"]),
        "price": ("price: Numeric(10, 2), a Decimal, required",
                  ["Product.price: Numeric -> Float", "Product.price: Numeric(...) -> Numeric(12, 4)",
                   "Product: Mapped[Decimal] -> Mapped[float]", "Product: Mapped[Decimal] -> Optional"]),
        "description": ("description: optional text of any length",
                        ["Product: Mapped[str | None] -> Mapped[str]", "description Text -> String(200)"]),
    },
    "01-timestamp-mixin": {
        "created aware": ("created_at timezone-aware", ["TimestampMixin.created_at: drop timezone=True",
                                                        "TimestampMixin.created_at: timezone=True -> False",
                                                        "TimestampMixin.created_at: DateTime -> Date"]),
        "created required": ("created_at required", ["TimestampMixin: Mapped[dt.datetime] -> Optional"]),
        "created by database": ("created_at filled by the database at INSERT",
                                ["TimestampMixin.created_at: drop server_default=func.now()",
                                 "created_at filled in Python (default=)"]),
        "updated aware": ("updated_at timezone-aware", ["TimestampMixin.updated_at: drop timezone=True",
                                                        "TimestampMixin.updated_at: timezone=True -> False",
                                                        "TimestampMixin.updated_at: DateTime -> Date"]),
        "updated NULL until update": ("updated_at optional, NULL until the first UPDATE",
                                      ["TimestampMixin: Mapped[dt.datetime | None] -> Mapped[dt.datetime]",
                                       "updated_at also set at INSERT"]),
        "updated every UPDATE": ("updated_at set on every UPDATE",
                                 ["TimestampMixin.updated_at: drop onupdate=func.now()"]),
        "no utcnow": ("no datetime.utcnow (naive)", ["onupdate=datetime.utcnow"]),
    },
    "01-review-constraints": {
        "columns": ("product_sku String(20), reviewer String(100), rating integer, all required; "
                    "body optional text",
                    ["Review.product_sku: String(20) length + 10", "Review.product_sku: String(20) -> Text",
                     "Review.reviewer: String(100) length + 10", "Review.reviewer: String(100) -> Text",
                     "Review: Mapped[str] -> Optional", "Review: Mapped[str] -> Optional #2",
                     "Review: Mapped[int] -> Optional #2", "Review: Mapped[str | None] -> Mapped[str]",
                     "rating Mapped[int] -> Mapped[str]"]),
        "rating 1..5": ("the database refuses a rating outside 1 to 5",
                        ["Review.__table_args__: drop CheckConstraint('rating BETWEEN 1 AND 5')",
                         "CHECK BETWEEN 0 AND 5", "CHECK BETWEEN 1 AND 6"]),
        "pair unique": ("the database refuses a second review of a product by the same reviewer",
                        ["Review.__table_args__: drop UniqueConstraint('product_sku')",
                         "Review.__table_args__: UniqueConstraint drop column 'product_sku'",
                         "Review.__table_args__: UniqueConstraint drop column 'reviewer'"]),
        "not one column": ("one reviewer may review many products, one product have many reviewers",
                           ["Review.product_sku: add unique=True", "Review.reviewer: add unique=True"]),
    },
    "01-shipment-indexes": {
        "columns": ("carrier String(30), tracking_code String(40), shipped_at timezone-aware, all required",
                    ["Shipment.carrier: String(30) length + 10", "Shipment.carrier: String(30) -> Text",
                     "Shipment.tracking_code: String(40) length + 10", "Shipment.tracking_code: String(40) -> Text",
                     "Shipment.shipped_at: drop timezone=True", "Shipment.shipped_at: timezone=True -> False",
                     "Shipment.shipped_at: DateTime -> Date", "Shipment: Mapped[str] -> Optional",
                     "Shipment: Mapped[str] -> Optional #2", "Shipment: Mapped[dt.datetime] -> Optional"]),
        "composite index": ("an index ix_shipments_carrier_shipped on (carrier, shipped_at)",
                            ["Shipment.__table_args__: drop Index('ix_shipments_carrier_shipped')",
                             "Shipment.__table_args__: Index columns reversed",
                             "Shipment.__table_args__: Index drop column 'carrier'",
                             "Shipment.__table_args__: Index drop column 'shipped_at'",
                             "composite index renamed"]),
        "tracking unique": ("a unique tracking_code", ["Shipment.tracking_code: drop unique=True",
                                                       "Shipment.tracking_code: unique=True -> False"]),
        "no redundant index": ("no redundant index (on the primary key, or one another index covers)",
                               ["Shipment.id: add index=True", "Shipment.carrier: add index=True",
                                "second index on tracking_code"]),
        "many per carrier": ("a carrier has many shipments (all shipments of carrier X)",
                             ["Shipment.carrier: add unique=True", "Shipment.shipped_at: add unique=True"]),
    },
    "01-soft-delete": {
        "deleted_at": ("deleted_at optional, timezone-aware",
                       ["SoftDeleteMixin: Mapped[dt.datetime | None] -> Mapped[dt.datetime]",
                        "SoftDeleteMixin.deleted_at: drop timezone=True",
                        "SoftDeleteMixin.deleted_at: timezone=True -> False",
                        "SoftDeleteMixin.deleted_at: DateTime -> Date"]),
        "now in UTC": ("soft_delete() sets deleted_at to the current time in UTC",
                       ["soft_delete: dt.datetime.now(dt.timezone.utc) -> naive now()",
                        "a fixed time instead of now", "aware but not UTC (+02:00)"]),
        "UPDATE, never DELETE": ("the next flush sends an UPDATE, never a DELETE", ["soft_delete deletes the row"]),
        "is_deleted property": ("is_deleted: a property, True once deleted_at is set",
                                ["is_deleted without @property", "is_deleted inverted"]),
    },
    # ---------------------------------------------------------------- lesson 02
    "02-add-customer": {
        "customer saved": ("saves the customer with the given email, name and country",
                           ["add_customer: drop statement session.add(customer)", "country not from the argument"]),
        "created_at aware UTC": ("created_at: the current time, timezone-aware UTC",
                                 ["add_customer.customer: dt.datetime.now(dt.timezone.utc) -> naive now()",
                                  "created_at a fixed date"]),
        "profile": ("its CustomerProfile with newsletter=True", ["add_customer: newsletter=True -> False",
                                                                  "no profile"]),
        "committed once": ("both rows in one transaction with one COMMIT",
                           ["add_customer: Session.begin() -> Session()", "commit inside Session.begin()",
                            "a commit per row"]),
        "returns id": ("returns the new customer's id (an int)",
                       ["add_customer: drop statement session.flush()", "add_customer: drop .flush()",
                        "returns the customer object"]),
    },
    "02-set-statuses": {
        "applied and committed": ("all changes applied and committed",
                                  ["set_statuses: Session.begin() -> Session()"]),
        "all or nothing": ("one transaction, committed once: a failure changes nothing",
                           ["set_statuses: commit in every loop iteration"]),
        "exception propagates": ("the exception reaches the caller", ["errors swallowed"]),
        "missing id fails": ("an order id that does not exist makes the batch fail", ["missing ids skipped"]),
        "returns nothing": ("returns nothing", ["returns the number of changes"]),
    },
    "02-find-customer": {
        "customer or None": ("returns the Customer with this primary key, or None",
                             ["find_customer: .get() -> .get_one()"]),
        "identity map": ("no SQL when the session already holds the customer",
                         ["select instead of session.get", "find_customer: commit before return"]),
    },
    "02-import-reviews": {
        "created_at": ("created_at = now (UTC)", ["import_reviews.now: dt.datetime.now(dt.timezone.utc) -> naive now()"]),
        "database refuses": ("the database refuses the bad rows: no checks in Python",
                             ["ratings checked in Python"]),
        "savepoint per row": ("each row in its own savepoint, rolled back alone",
                              ["no savepoint per row"]),
        "keep the others": ("keeps all the valid rows, in the order given", ["rows in reverse order", "import_reviews: drop statement session.add(Review(**row, created_at=now))"]),
        "one transaction": ("one transaction, committed once",
                            ["import_reviews: commit in every loop iteration", "import_reviews: Session.begin() -> Session()"]),
        "no escape": ("the IntegrityError does not escape", ["catches the wrong exception"]),
        "count": ("returns the number of reviews saved", ["returns the number of rows given"]),
    },
    "02-customer-by-name": {
        "one or none": ("the customer, None for nobody, MultipleResultsFound for several",
                        ["customer_by_name: .one_or_none() -> .first()", "customer_by_name: .one_or_none() -> .one()",
                         "customer_by_name: .one_or_none() -> .scalar()"]),
        "exact name": ("exactly this name", ["customer_by_name: Customer.name == name -> .contains()",
                                             "customer_by_name: Customer.name == name -> .like()",
                                             "customer_by_name: Customer.name == name -> .startswith()",
                                             "customer_by_name: Customer.name == name: == -> !="]),
        "database filters": ("one statement; the database filters",
                             ["customer_by_name: drop .where(Customer.name == name)",
                              "customer_by_name: where moved into Python (Customer.name == name)"]),
        "Customer object": ("returns the Customer object", ["customer_by_name: .scalars() -> .execute()"]),
    },
    # ---------------------------------------------------------------- lesson 03
    "03-customers-in-country": {
        "filter in database": ("the customers whose country is `country`, filtered by WHERE",
                               ["customers_in.stmt: drop .where(Customer.country == country)",
                                "customers_in.stmt: where moved into Python (Customer.country == country)",
                                "customers_in.stmt: Customer.country == country: == -> !="]),
        "sorted by name then id": ("sorted by name, then id, by ORDER BY",
                                   ["customers_in.stmt: drop .order_by(Customer.name, Customer.id)",
                                    "customers_in.stmt: order_by drop term Customer.name",
                                    "customers_in.stmt: order_by reverse Customer.name",
                                    "customers_in.stmt: order_by moved into Python (sorted)"]),
        "tie-break": ("the tie-break by id", ["customers_in.stmt: order_by drop term Customer.id",
                                              "customers_in.stmt: order_by reverse Customer.id"]),
        "Customer objects": ("returns Customer objects", ["customers_in: .scalars() -> .execute()"]),
    },
    "03-category-revenue": {
        "no cancelled": ("leaves out cancelled orders (WHERE, before grouping)",
                         ["category_revenue.stmt: drop .where(Order.status != 'cancelled')",
                          "category_revenue.stmt: Order.status != 'cancelled': != -> =="]),
        "revenue": ("revenue = sum of quantity * unit_price per category, grouped by the database",
                    ["category_revenue.stmt: drop .group_by(Category.id, Category.name)",
                     "category_revenue.stmt: drop .join(OrderItem.order)",
                     "category_revenue.stmt: drop .join(Product.order_items)",
                     "category_revenue.stmt: drop .join(Category.products)",
                     "category_revenue.stmt: where moved into Python (Order.status != 'cancelled')"]),
        "having >=": ("keeps categories with revenue >= min_revenue, in HAVING",
                      ["category_revenue.stmt: drop .having(revenue >= min_revenue)",
                       "category_revenue.stmt: revenue >= min_revenue: >= -> >"]),
        "order": ("highest revenue first, then by name, sorted by the database",
                  ["category_revenue.stmt: drop .order_by(revenue.desc(), Category.name)",
                   "category_revenue.stmt: order_by drop term revenue.desc()",
                   "category_revenue.stmt: order_by reverse revenue.desc()",
                   "category_revenue.stmt: order_by drop term Category.name",
                   "category_revenue.stmt: order_by reverse Category.name"]),
        "Decimal": ("the revenue is a Decimal", ["revenue as float"]),
    },
    "03-never-ordered": {
        "anti-join": ("the customers with no order at all",
                      ["customers_without_orders.stmt: drop .where(Order.id.is_(None))",
                       "customers_without_orders.stmt: .is_() -> .is_not()",
                       "customers_without_orders.stmt: drop .outerjoin(Customer.orders)",
                       "customers_without_orders.stmt: .outerjoin() -> .join()",
                       "customers_without_orders.stmt: where moved into Python (Order.id.is_(None))"]),
        "one statement": ("in one statement (no customer.orders in a loop)", ["customer.orders read in a loop"]),
        "sorted by id": ("sorted by id", ["customers_without_orders.stmt: drop .order_by(Customer.id)",
                                          "customers_without_orders.stmt: order_by reverse Customer.id",
                                          "customers_without_orders.stmt: order_by moved into Python (sorted)"]),
        "Customer objects": ("returns Customer objects", ["customers_without_orders: .scalars() -> .execute()"]),
    },
    "03-page-after": {
        "keyset": ("the customers whose id is greater than last_id, WHERE in the database, not OFFSET",
                   ["page_after.stmt: drop .where(Customer.id > last_id)",
                    "page_after.stmt: where moved into Python (Customer.id > last_id)",
                    "page_after.stmt: Customer.id > last_id: > -> >=", "OFFSET instead of keyset"]),
        "limit": ("at most size customers, LIMIT in the database",
                  ["page_after.stmt: drop .limit(size)", "page_after.stmt: limit + 1", "page_after.stmt: limit - 1",
                   "page_after.stmt: limit moved into Python (slice)"]),
        "id order": ("in id order, ORDER BY in the database",
                     ["page_after.stmt: drop .order_by(Customer.id)", "page_after.stmt: order_by reverse Customer.id",
                      "page_after.stmt: order_by moved into Python (sorted)"]),
        "Customer objects": ("returns Customer objects", ["page_after: .scalars() -> .execute()"]),
    },
    "03-safe-search": {
        "bound parameter": ("the term passed as a bound parameter", ["term pasted into the SQL"]),
        "contains": ("emails that contain the term", ["search_emails: LIKE pattern *"]),
        "database searches and sorts": ("one statement: the database searches and sorts by id",
                                        ["search_emails.stmt: SQL without ORDER BY", "filtered in Python"]),
        "text()": ("the SQL written with text(), not select()", ["select() instead of text()"]),
        "ids": ("returns a list of int ids", ["search_emails: .scalars() -> .execute()"]),
        "wildcards literal": ("a '%' or '_' in the term matches itself, not any text",
                              ["search_emails.escaped: drop .replace('%', '/%')",
                               "search_emails.stmt: SQL without its ESCAPE clause"]),
        "escape character escaped": ("the escape character in the term is escaped too",
                                     ["search_emails.escaped: drop .replace('/', '//')"]),
    },
    # ---------------------------------------------------------------- lesson 04
    "04-author-books": {
        "columns": ("name String(100), title String(200)",
                    ["Author.name: String(100) length + 10", "Author.name: String(100) -> Text",
                     "Book.title: String(200) length + 10", "Book.title: String(200) -> Text"]),
        "NOT NULL foreign key": ("author_id: a NOT NULL foreign key to authors.id",
                                 ["Book: Mapped[int] -> Optional #2", "no ForeignKey on author_id"]),
        "both sides linked": ("Author.books and Book.author linked with back_populates, both directions",
                              ["Author.books: drop back_populates='author'", "Book.author: drop back_populates='books'"]),
    },
    "04-recipe-ingredients": {
        "columns": ("name String(100) on both; Ingredient.name unique",
                    ["Recipe.name: String(100) length + 10", "Recipe.name: String(100) -> Text",
                     "Ingredient.name: String(100) length + 10", "Ingredient.name: String(100) -> Text",
                     "Ingredient.name: drop unique=True", "Ingredient.name: unique=True -> False"]),
        "secondary": ("both relationships through secondary=recipe_ingredients",
                      ["Recipe.ingredients: drop secondary=recipe_ingredients",
                       "Ingredient.recipes: drop secondary=recipe_ingredients"]),
        "both sides linked": ("linked with back_populates", ["Recipe.ingredients: drop back_populates='recipes'",
                                                             "Ingredient.recipes: drop back_populates='ingredients'"]),
        "pair once": ("one pair can be stored only once", ["link table without a primary key"]),
    },
    "04-cart-orphans": {
        "columns": ("owner String(50), sku String(20), quantity integer, cart_id NOT NULL foreign key",
                    ["Cart.owner: String(50) length + 10", "Cart.owner: String(50) -> Text",
                     "CartLine.sku: String(20) length + 10", "CartLine.sku: String(20) -> Text",
                     "CartLine: Mapped[int] -> Optional #2", "quantity not an integer"]),
        "cascade": ("removing a line deletes it; deleting the cart deletes its lines",
                    ["Cart.lines: drop cascade='all, delete-orphan'",
                     "Cart.lines: cascade='all, delete-orphan' -> 'delete-orphan'",
                     "Cart.lines: cascade='all, delete-orphan' -> 'all'",
                     "Cart.lines: cascade='all, delete-orphan' -> 'delete'",
                     "Cart.lines: cascade='all, delete-orphan' -> 'save-update, merge, delete-orphan'"]),
        "both sides linked": ("CartLine.cart linked to Cart.lines with back_populates",
                              ["Cart.lines: drop back_populates='cart'", "CartLine.cart: drop back_populates='lines'"]),
    },
    "04-tag-product": {
        "through the relationship": ("through Product.tags; the flush writes the INSERT",
                                     ["INSERT by hand", "tag_product: drop statement product.tags.append(tag)"]),
        "one INSERT, no DELETE": ("one INSERT INTO product_tags, no DELETE", ["tags replaced, not appended"]),
        "existing tag": ("the existing tag, not a new one", ["a new Tag"]),
        "commit": ("and commit", ["tag_product: drop statement session.commit()"]),
        "returns nothing": ("returns nothing", ["returns the product"]),
        "already tagged": ("no INSERT and no error if the product has the tag",
                           ["tag_product: tag not in product.tags: in/not in swapped", "no check for an existing tag"]),
    },
    "04-delete-customer": {
        "everything deleted": ("the customer and every row that refers to them",
                               ["Core delete of the customer alone", "delete_customer: drop statement session.delete(customer)",
                                "delete_customer: drop statement session.delete(order)",
                                "delete_customer: drop statement session.delete(review)"]),
        "commit": ("and commit", ["delete_customer: drop statement session.commit()"]),
        "others stay": ("rows of other customers stay", ["every order deleted"]),
    },
    # ---------------------------------------------------------------- lesson 05
    "05-customers-orders": {
        "orders loaded": ("customer.orders loaded: at most 2 statements in all",
                          ["customers_with_orders.stmt: drop .options(selectinload(Customer.orders))",
                           "customers_with_orders.stmt: selectinload(Customer.orders) -> lazyload",
                           "customers_with_orders.stmt: selectinload(Customer.orders) -> noload",
                           "customers_with_orders.stmt: selectinload(Customer.orders) -> raiseload"]),
        "not subqueryload": ("selectinload or joinedload, not subqueryload",
                             ["customers_with_orders.stmt: selectinload(Customer.orders) -> subqueryload"]),
        "all customers": ("all customers, also those without orders", ["inner join drops customers without orders"]),
        "sorted by id": ("sorted by id by the database",
                         ["customers_with_orders.stmt: drop .order_by(Customer.id)",
                          "customers_with_orders.stmt: order_by reverse Customer.id",
                          "customers_with_orders.stmt: order_by moved into Python (sorted)"]),
        "objects": ("a list of Customer objects", ["customers_with_orders: .scalars() -> .execute()",
                                                   "customers_with_orders.stmt: selectinload(Customer.orders) -> joinedload"]),
    },
    "05-order-lines": {
        "filter in database": ("that customer's orders, WHERE in the database",
                               ["orders_with_lines.stmt: drop .where(Order.customer_id == customer_id)",
                                "orders_with_lines.stmt: where moved into Python (Order.customer_id == customer_id)",
                                "orders_with_lines.stmt: Order.customer_id == customer_id: == -> !="]),
        "sorted by id": ("sorted by id by the database", ["orders_with_lines.stmt: drop .order_by(Order.id)",
                                                          "orders_with_lines.stmt: order_by reverse Order.id",
                                                          "orders_with_lines.stmt: order_by moved into Python (sorted)"]),
        "items loaded": ("order.items loaded", ["orders_with_lines.stmt: drop .options(selectinload(Order.items).joinedload(...)",
                                                "orders_with_lines.stmt: selectinload(Order.items) -> lazyload",
                                                "orders_with_lines.stmt: selectinload(Order.items) -> noload",
                                                "orders_with_lines.stmt: selectinload(Order.items) -> raiseload"]),
        "products loaded": ("item.product loaded; at most 3 statements",
                            ["orders_with_lines.stmt: drop chained .joinedload(...)",
                             "orders_with_lines.stmt: joinedload(OrderItem.product) -> lazyload",
                             "orders_with_lines.stmt: joinedload(OrderItem.product) -> noload",
                             "orders_with_lines.stmt: joinedload(OrderItem.product) -> raiseload"]),
        "objects": ("returns Order objects", ["orders_with_lines: .scalars() -> .execute()",
                                              "orders_with_lines.stmt: selectinload(Order.items) -> joinedload"]),
    },
    "05-order-customer": {
        "one statement": ("order.customer loaded in the same statement: exactly 1 statement",
                          ["order_with_customer.stmt: drop .options(joinedload(Order.customer, innerjoin=...)",
                           "order_with_customer.stmt: joinedload(Order.customer) -> selectinload",
                           "order_with_customer.stmt: joinedload(Order.customer) -> subqueryload",
                           "order_with_customer.stmt: joinedload(Order.customer) -> lazyload",
                           "order_with_customer.stmt: joinedload(Order.customer) -> noload",
                           "order_with_customer.stmt: joinedload(Order.customer) -> raiseload"]),
        "that order": ("the Order with that id, the object, not a list",
                       ["order_with_customer.stmt: drop .where(Order.id == order_id)",
                        "order_with_customer.stmt: where moved into Python (Order.id == order_id)",
                        "order_with_customer.stmt: Order.id == order_id: == -> !=",
                        "order_with_customer: .scalars() -> .execute()"]),
    },
    "05-raiseload": {
        "filter in database": ("the orders with that status, WHERE in the database",
                               ["strict_orders.stmt: drop .where(Order.status == status)",
                                "strict_orders.stmt: where moved into Python (Order.status == status)",
                                "strict_orders.stmt: Order.status == status: == -> !="]),
        "sorted by id": ("sorted by id by the database", ["strict_orders.stmt: drop .order_by(Order.id)",
                                                          "strict_orders.stmt: order_by reverse Order.id",
                                                          "strict_orders.stmt: order_by moved into Python (sorted)"]),
        "items loaded": ("order.items loaded, at most 2 statements",
                         ["strict_orders.stmt: options drop selectinload(Order.items)",
                          "strict_orders.stmt: selectinload(Order.items) -> lazyload",
                          "strict_orders.stmt: selectinload(Order.items) -> noload",
                          "strict_orders.stmt: selectinload(Order.items) -> raiseload",
                          "strict_orders.stmt: selectinload(Order.items) -> joinedload"]),
        "others raise": ("every other relationship raises (order.customer, item.product)",
                         ["strict_orders.stmt: options drop raiseload('*')",
                          "strict_orders.stmt: drop .options(selectinload(Order.items), raiseload('*'))",
                          "strict_orders.stmt: raiseload('*') -> selectinload",
                          "strict_orders.stmt: raiseload('*') -> lazyload",
                          "strict_orders.stmt: raiseload('*') -> noload", "raiseload on Order.customer only"]),
        "objects": ("returns Order objects", ["strict_orders: .scalars() -> .execute()"]),
    },
    "05-contains-eager": {
        "only cancelled orders": ("customer.orders holds only the cancelled orders, from the same join",
                                  ["customers_with_cancelled_orders.stmt: drop .options(contains_eager(Customer.orders))",
                                   "customers_with_cancelled_orders.stmt: contains_eager(Customer.orders) -> selectinload",
                                   "customers_with_cancelled_orders.stmt: contains_eager(Customer.orders) -> joinedload",
                                   "customers_with_cancelled_orders.stmt: contains_eager(Customer.orders) -> subqueryload",
                                   "customers_with_cancelled_orders.stmt: contains_eager(Customer.orders) -> lazyload",
                                   "customers_with_cancelled_orders.stmt: contains_eager(Customer.orders) -> noload",
                                   "customers_with_cancelled_orders.stmt: contains_eager(Customer.orders) -> raiseload"]),
        "customers with a cancelled order": ("the customers with at least one cancelled order (WHERE on the join)",
                                             ["customers_with_cancelled_orders.stmt: drop .where(Order.status == 'cancelled')",
                                              "customers_with_cancelled_orders.stmt: where moved into Python (Order.status == 'cancelled')",
                                              "customers_with_cancelled_orders.stmt: Order.status == 'cancelled': == -> !=",
                                              "customers_with_cancelled_orders.stmt: drop .join(Customer.orders)"]),
        "each once, sorted": ("each once, sorted by id (ORDER BY)",
                              ["customers_with_cancelled_orders: drop .unique()",
                               "customers_with_cancelled_orders.stmt: drop .order_by(Customer.id)",
                               "customers_with_cancelled_orders.stmt: order_by reverse Customer.id",
                               "customers_with_cancelled_orders.stmt: order_by moved into Python (sorted)"]),
        "objects": ("returns Customer objects", ["customers_with_cancelled_orders: .scalars() -> .execute()"]),
    },
    "08-order-total": {
        "add the column": ("orders.total exists after upgrade", ["upgrade_total: drop statement op.add_column*"]),
        "Numeric(10, 2)": ("a Numeric(10, 2) column", ["upgrade_total: Numeric -> Float", "upgrade_total: Numeric(...) -> Numeric(12, 4)"]),
        "backfill every row": ("the sum of quantity * unit_price of its items for every order",
                               ["upgrade_total: drop statement op.execute(orders.update()*", "upgrade_total.total: *",
                                "sum of unit_price only", "sum of quantity only"]),
        "NOT NULL": ("NOT NULL after the backfill", ["upgrade_total: drop statement batch.alter_column*",
                                                     "upgrade_total: drop nullable=False", "upgrade_total: nullable=False -> True"]),
        "add nullable first": ("the rows have no value yet: add nullable, then constrain", ["upgrade_total: nullable=True -> False"]),
        "no server default": ("no server default left", ["server default 0 left"]),
        "0 without items": ("0 for an order without items (coalesce)", ["no coalesce"]),
        "downgrade drops it": ("downgrade_total() drops the column", ["downgrade does nothing"]),
    },
    "08-split-name": {
        "both columns": ("first_name and last_name added", ["upgrade_split: drop statement op.add_column*"]),
        "String(100)": ("both String(100)", ["upgrade_split: sa.String(100) length + 10", "upgrade_split: sa.String(100) -> Text",
                                             "upgrade_split: sa.String(100) length + 10 #2", "upgrade_split: sa.String(100) -> Text #2"]),
        "filled for every row": ("every customer's two parts", ["upgrade_split: drop statement conn.execute*",
                                                                "upgrade_split: drop statement params.append*",
                                                                "upgrade_split: drop .where*", "upgrade_split: customers.c.id == *"]),
        "split at the first space": ("first_name before the FIRST space, last_name all the rest",
                                     ["split at the last space", "second word only"]),
        "NOT NULL": ("both NOT NULL", ["upgrade_split: drop statement batch.alter_column*", "upgrade_split: drop nullable=False*",
                                       "upgrade_split: nullable=False -> True*"]),
        "name dropped": ("name dropped", ["upgrade_split: drop statement batch.drop_column('name')"]),
        "downgrade restores name exactly": ("downgrade gives every customer their exact name back, NOT NULL",
                                            ["downgrade without the space", "downgrade name nullable", "downgrade keeps first_name"]),
    },
    "08-expand-title": {
        "title added": ("title added next to name", ["upgrade_title: drop statement op.add_column*"]),
        "nullable": ("title is nullable (the old release inserts without it)", ["upgrade_title: nullable=True -> False"]),
        "String(200)": ("title is String(200)", ["upgrade_title: sa.String(200) length + 10", "upgrade_title: sa.String(200) -> Text"]),
        "copied": ("every product's name copied into title", ["upgrade_title: drop statement op.execute(products.update()*"]),
        "no rename": ("no rename", ["rename instead of add"]),
        "no table rewrite": ("no batch copy, no volatile default", ["batch copy (recreate always)"]),
        "SET LOCAL": ("the lock timeout ends with the transaction (SET LOCAL)", ["SET without LOCAL"]),
        "downgrade drops title": ("downgrade_title() drops title", ["downgrade does nothing"]),
    },
    "08-fk-not-valid": {
        "the foreign key": ("fk_shipments_order_id_orders on shipments.order_id -> orders.id",
                            ["wrong name", "references customers", "ON DELETE CASCADE"]),
        "downgrade drops it": ("downgrade_fk() drops the constraint", ["downgrade does nothing"]),
    },
    "08-index-concurrently": {
        "the index": ("ix_orders_status on orders (status), not unique",
                      ["upgrade_index: drop statement op.create_index*", "other name", "unique index", "two columns",
                       "partial index"]),
        "downgrade drops it": ("downgrade_index() drops it", ["downgrade does nothing"]),
    },
}

TEXT_MUTANTS: dict[str, list[tuple[str, str, str]]] = {
    "00-count-customers": [
        ("count in Python (len)", "return session.scalar(select(func.count()).select_from(Customer))",
         "return len(session.scalars(select(Customer)).all())"),
        ("highest id instead of COUNT", "return session.scalar(select(func.count()).select_from(Customer))",
         "return session.scalar(select(func.max(Customer.id)))"),
        ("hard-coded number", "return session.scalar(select(func.count()).select_from(Customer))", "return 200"),
        ("returns a Row", "return session.scalar(select(func.count()).select_from(Customer))",
         "return session.execute(select(func.count()).select_from(Customer)).one()"),
        ("two statements", "return session.scalar(select(func.count()).select_from(Customer))",
         "session.scalar(select(func.count()).select_from(Customer))\n"
         "    return session.scalar(select(func.count()).select_from(Customer))"),
        ("count one country only", "select_from(Customer))", "select_from(Customer).where(Customer.country == 'DE'))"),
        ("count(Customer.id)", "return session.scalar(select(func.count()).select_from(Customer))",
         "return session.scalar(select(func.count(Customer.id)))"),
        ("legacy Query.count()", "return session.scalar(select(func.count()).select_from(Customer))",
         "return session.query(Customer).count()"),
    ],
    "01-product-model": [
        ("table name products -> product", '__tablename__ = "products"', '__tablename__ = "product"'),
        ("description Text -> String(200)", "mapped_column(Text)", "mapped_column(String(200))"),
    ],
    "01-timestamp-mixin": [
        ("created_at filled in Python (default=)", "server_default=func.now()",
         "default=lambda: dt.datetime.now(dt.timezone.utc)"),
        ("updated_at also set at INSERT", "onupdate=func.now()", "onupdate=func.now(), server_default=func.now()"),
        ("onupdate=datetime.utcnow", "onupdate=func.now()", "onupdate=dt.datetime.utcnow"),
    ],
    "01-review-constraints": [
        ("CHECK BETWEEN 0 AND 5", "rating BETWEEN 1 AND 5", "rating BETWEEN 0 AND 5"),
        ("CHECK BETWEEN 1 AND 6", "rating BETWEEN 1 AND 5", "rating BETWEEN 1 AND 6"),
        ("rating Mapped[int] -> Mapped[str]", "rating: Mapped[int]", "rating: Mapped[str]"),
    ],
    "01-shipment-indexes": [
        ("composite index renamed", '"ix_shipments_carrier_shipped"', '"ix_carrier_shipped"'),
        ("second index on tracking_code", '"shipped_at"),)',
         '"shipped_at"), Index("ix_shipments_tracking", "tracking_code"))'),
    ],
    "01-soft-delete": [
        ("a fixed time instead of now", "self.deleted_at = dt.datetime.now(dt.timezone.utc)",
         "self.deleted_at = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)"),
        ("aware but not UTC (+02:00)", "self.deleted_at = dt.datetime.now(dt.timezone.utc)",
         "self.deleted_at = dt.datetime.now(dt.timezone(dt.timedelta(hours=2)))"),
        ("soft_delete deletes the row", "self.deleted_at = dt.datetime.now(dt.timezone.utc)",
         "__import__('sqlalchemy.orm').orm.object_session(self).delete(self)"),
        ("is_deleted without @property", "    @property\n", ""),
        ("is_deleted inverted", "return self.deleted_at is not None", "return self.deleted_at is None"),
    ],
    "02-add-customer": [
        ("country not from the argument", "country=country", 'country="DE"'),
        ("created_at a fixed date", "created_at=dt.datetime.now(dt.timezone.utc)",
         "created_at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)"),
        ("no profile", "customer.profile = CustomerProfile(newsletter=True)", "pass"),
        ("commit inside Session.begin()", "session.flush()   ", "session.commit()  "),
        ("returns the customer object", "return customer.id", "return customer"),
        ("a commit per row", [("with Session.begin() as session:", "with Session() as session:"),
                              ("customer.profile = CustomerProfile(newsletter=True)", "pass"),
                              ("session.flush()", "session.commit(); session.add(CustomerProfile("
                               "customer_id=customer.id, newsletter=True)); session.commit()")]),
    ],
    "02-set-statuses": [
        ("errors swallowed", "with Session.begin() as session:",
         "with Session.begin() as session, __import__('contextlib').suppress(Exception):"),
        ("returns the number of changes", "            session.get_one(Order, order_id).status = status",
         "            session.get_one(Order, order_id).status = status\n        return len(changes)  # noqa"),
        ("missing ids skipped", "session.get_one(Order, order_id).status = status",
         "(o := session.get(Order, order_id)) is not None and setattr(o, 'status', status)"),
    ],
    "02-find-customer": [
        ("select instead of session.get", "return session.get(Customer, customer_id)",
         "return session.scalars(select(Customer).where(Customer.id == customer_id)).one_or_none()"),
    ],
    "02-import-reviews": [
        ("rows in reverse order", "for row in rows:", "for row in reversed(rows):"),
        ("ratings checked in Python", "for row in rows:", "for row in [r for r in rows if 1 <= r['rating'] <= 5]:"),
        ("no savepoint per row", "with session.begin_nested():", "with __import__('contextlib').nullcontext():"),
        ("catches the wrong exception", "except exc.IntegrityError:", "except exc.DataError:"),
        ("returns the number of rows given", "return saved", "return len(rows)"),
    ],
    "03-category-revenue": [
        ("ORDER BY the labels", [('select(Category.name, revenue.label("revenue"))',
                                  'select(Category.name.label("category"), revenue.label("revenue"))'),
                                 (".order_by(revenue.desc(), Category.name)",
                                  '.order_by(_mut_sa.desc("revenue"), "category")')]),
        ("revenue as float", "return session.execute(stmt).all()",
         "return [(name, float(total)) for name, total in session.execute(stmt).all()]"),
    ],
    "03-never-ordered": [
        ("customer.orders read in a loop", "return session.scalars(stmt).all()",
         "return [c for c in session.scalars(select(Customer).order_by(Customer.id)).all() if not c.orders]"),
    ],
    "03-page-after": [
        ("no None case: id > (last_id or 0)", [("if last_id is not None:\n        stmt = stmt.where(Customer.id > last_id)",
                                                "stmt = stmt.where(Customer.id > (last_id or 0))")]),
        ("OFFSET instead of keyset", "stmt = stmt.where(Customer.id > last_id)", "stmt = stmt.offset(last_id)"),
    ],
    "03-safe-search": [
        # written to apply to the answer with or without an ESCAPE clause and an escaped term
        ("term pasted into the SQL", 'text("SELECT id FROM customers WHERE email LIKE :pattern',
         'text(f"SELECT id FROM customers WHERE email LIKE \'%{term}%\''),
        ("filtered in Python", "return session.scalars(stmt, ",
         'return [i for i, e in session.execute(text("SELECT id, email FROM customers ORDER BY id")) '
         "if term in e]\n    session.scalars(stmt, "),
        ("select() instead of text()", "return session.scalars(stmt, ",
         "return session.scalars(select(Customer.id).where(Customer.email.contains(term, autoescape=True))"
         ".order_by(Customer.id)).all()\n    session.scalars(stmt, "),
    ],
    "04-author-books": [
        ("no ForeignKey on author_id", 'mapped_column(ForeignKey("authors.id"))', "mapped_column()"),
    ],
    "04-recipe-ingredients": [
        ("link table without a primary key", "), primary_key=True)", "))"),
    ],
    "04-cart-orphans": [
        ("quantity not an integer", "quantity: Mapped[int]", "quantity: Mapped[float]"),
    ],
    "04-tag-product": [
        ("INSERT by hand", "product.tags.append(tag)",
         "session.execute(Product.tags.property.secondary.insert().values(product_id=product.id, tag_id=tag.id))"),
        ("tags replaced, not appended", "product.tags.append(tag)", "product.tags = [tag]"),
        ("returns the product", "    session.commit()\n", "    session.commit()\n    return product\n"),
        ("a new Tag", "tag = session.scalars(select(Tag).where(Tag.name == tag_name)).one()", "tag = Tag(name=tag_name)"),
        ("no check for an existing tag", "if tag not in product.tags:\n        product.tags.append(tag)",
         "product.tags.append(tag)"),
    ],
    "04-delete-customer": [
        ("Core delete of the customer alone", [
            ("session.delete(order)", "pass"), ("session.delete(review)", "pass"),
            ("session.delete(customer)", "session.execute(__import__('sqlalchemy').delete(Customer)"
             ".where(Customer.id == customer_id))")]),
        ("every order deleted", "for order in customer.orders:",
         "for order in session.scalars(select(type(customer.orders[0]))).all():"),
    ],
    "05-customers-orders": [
        ("inner join drops customers without orders", "select(Customer).order_by(Customer.id)",
         "select(Customer).join(Customer.orders).distinct().order_by(Customer.id)"),
    ],
    "05-raiseload": [
        ("raiseload on Order.customer only", 'raiseload("*")', "raiseload(Order.customer)"),
    ],
    "08-order-total": [
        ("sum of unit_price only", "sa.func.sum(items.c.quantity * items.c.unit_price)", "sa.func.sum(items.c.unit_price)"),
        ("sum of quantity only", "sa.func.sum(items.c.quantity * items.c.unit_price)", "sa.func.sum(items.c.quantity)"),
        ("server default 0 left", 'op.add_column("orders", sa.Column("total", sa.Numeric(10, 2), nullable=True))',
         'op.add_column("orders", sa.Column("total", sa.Numeric(10, 2), nullable=True, server_default="0"))'),
        ("downgrade does nothing", """    with op.batch_alter_table("orders") as batch:
        batch.drop_column("total")""", "    pass"),
        ("no coalesce", "sa.func.coalesce(sa.func.sum(items.c.quantity * items.c.unit_price), 0)",
         "sa.func.sum(items.c.quantity * items.c.unit_price)"),
    ],
    "08-split-name": [
        ("split at the last space", 'first, _, last = name.partition(" ")', 'first, _, last = name.rpartition(" ")'),
        ("second word only", 'first, _, last = name.partition(" ")', 'first, last = name.split()[:2]'),
        ("downgrade without the space", 'customers.c.first_name + " " + customers.c.last_name',
         'customers.c.first_name + customers.c.last_name'),
        ("downgrade name nullable", """        batch.alter_column("name", existing_type=sa.String(100), nullable=False)
""", ""),
        ("downgrade keeps first_name", """        batch.drop_column("first_name")
""", ""),
    ],
    "08-expand-title": [
        ("rename instead of add", [('op.add_column("products", sa.Column("title", sa.String(200), nullable=True))',
                                    'op.alter_column("products", "name", new_column_name="title", existing_type=sa.String(200))'),
                                   ('    op.execute(products.update().values(title=products.c.name))\n', ''),
                                   ('op.drop_column("products", "title")',
                                    'op.alter_column("products", "title", new_column_name="name", existing_type=sa.String(200))')]),
        ("batch copy (recreate always)", 'op.add_column("products", sa.Column("title", sa.String(200), nullable=True))',
         'with op.batch_alter_table("products", recreate="always") as batch:\n'
         '        batch.add_column(sa.Column("title", sa.String(200), nullable=True))'),
        ("downgrade does nothing", 'op.drop_column("products", "title")', "pass"),
        ("SET without LOCAL", "SET LOCAL lock_timeout = '2s'", "SET lock_timeout = '2s'"),
    ],
    "08-fk-not-valid": [
        ("wrong name", 'FK_NAME = "fk_shipments_order_id_orders"', 'FK_NAME = "fk_shipments_orders"'),
        ("references customers", [('"shipments", "orders", ["order_id"]', '"shipments", "customers", ["order_id"]'),
                                  ('FK_NAME, "orders", ["order_id"]', 'FK_NAME, "customers", ["order_id"]')]),
        ("downgrade does nothing", 'batch.drop_constraint(FK_NAME, type_="foreignkey")', "pass"),
        ("PostgreSQL: no VALIDATE", '        op.execute(f"ALTER TABLE shipments VALIDATE CONSTRAINT {FK_NAME}")\n', ""),
        ("ON DELETE CASCADE", [('["order_id"], ["id"],\n', '["order_id"], ["id"], ondelete="CASCADE",\n'),
                               ('FK_NAME, "orders", ["order_id"], ["id"])', 'FK_NAME, "orders", ["order_id"], ["id"], ondelete="CASCADE")')]),
    ],
    "08-index-concurrently": [
        ("other name", 'op.create_index("ix_orders_status"', 'op.create_index("orders_status_idx"'),
        ("unique index", '["status"], postgresql_concurrently=True)', '["status"], unique=True, postgresql_concurrently=True)'),
        ("two columns", '["status"], postgresql_concurrently=True)', '["status", "id"], postgresql_concurrently=True)'),
        ("no autocommit block", [("""    with op.get_context().autocommit_block():
        op.create_index(""", """    if True:
        op.create_index(""")]),
        ("downgrade does nothing", 'op.drop_index("ix_orders_status", table_name="orders", postgresql_concurrently=True)', "pass"),
        ("downgrade not concurrently", 'table_name="orders", postgresql_concurrently=True)', 'table_name="orders")'),
        ("partial index", '["status"], postgresql_concurrently=True)',
         '["status"], postgresql_concurrently=True,\n                        '
         'postgresql_where=sa.text("status = \'pending\'"), sqlite_where=sa.text("status = \'pending\'"))'),
    ],
}

EQUIVALENT: dict[str, dict[tuple[str, ...], str]] = {
    "00-count-customers": {
        ("count_customers: commit before return",): COMMIT_READ,
        ("count(Customer.id)", "legacy Query.count()"): (
            "both send one SELECT count(...) over all customers (customers.id is NOT NULL, so "
            "count(id) = count(*)); Query.count() wraps it in a subquery, still one statement"),
    },
    "01-product-model": {
        ("Product.sku: add index=True", "Product.name: add index=True", "Product.price: add index=True",
         "Product.description: add index=True"): NO_INDEX_RULE,
    },
    "01-timestamp-mixin": {
        ("TimestampMixin.created_at: add index=True", "TimestampMixin.updated_at: add index=True"): NO_INDEX_RULE,
    },
    "01-review-constraints": {
        ("Review.id: add index=True", "Review.product_sku: add index=True", "Review.reviewer: add index=True",
         "Review.body: add index=True"): NO_INDEX_RULE,
        ("Review.__table_args__: UniqueConstraint columns reversed",):
            "UNIQUE (reviewer, product_sku) refuses exactly the pairs UNIQUE (product_sku, reviewer) does",
    },
    "01-shipment-indexes": {
        ("Shipment.tracking_code: add index=True",):
            "index=True with unique=True gives one UNIQUE INDEX instead of a UNIQUE constraint: still "
            "one index on tracking_code, and unique (the hint names this spelling)",
        ("Shipment.shipped_at: add index=True",):
            "an index on shipped_at alone is not covered by (carrier, shipped_at) (it leads with "
            "carrier) and is not on the primary key: the task forbids neither",
    },
    "01-soft-delete": {
        ("SoftDeleteMixin.deleted_at: add index=True",): NO_INDEX_RULE,
        ("SoftDeleteMixin.deleted_at: add unique=True",):
            "NULLs do not clash in a UNIQUE column (live rows), and soft_delete() stamps microseconds: "
            "no row the task describes is refused",
    },
    "02-customer-by-name": {("customer_by_name: commit before return",): COMMIT_READ},
    "02-set-statuses": {
        ("set_statuses: .get_one() -> .get()",):
            "session.get() returns None for the missing id and `.status = ...` on None raises "
            "AttributeError inside the block: it rolls back every change and reaches the caller, which "
            "is all the task asks (it names no exception class)",
    },
    "03-customers-in-country": {
        ("customers_in: return a generator",): GENERATOR,
        ("customers_in: commit before return",): COMMIT_READ,
        ("customers_in.stmt: Customer.country == country -> .contains()",
         "customers_in.stmt: Customer.country == country -> .like()",
         "customers_in.stmt: Customer.country == country -> .startswith()"):
            "`country` is a two-letter code and every country in the table is two upper-case letters: "
            "a two-letter term without wildcards is contained in, starts, or LIKE-matches exactly the "
            "codes equal to it",
    },
    "03-category-revenue": {
        ("category_revenue: return a generator",): GENERATOR,
        ("category_revenue: commit before return",): COMMIT_READ,
        ("ORDER BY the labels",): "ORDER BY revenue DESC, category names the same sort through the SELECT's labels",
        ("category_revenue.stmt: .join() -> .outerjoin()", "category_revenue.stmt: .join() -> .outerjoin() #2",
         "category_revenue.stmt: .join() -> .outerjoin() #3"):
            "the rows an outer join adds have NULL orders.status / NULL sums: WHERE status != "
            "'cancelled' and HAVING sum >= min_revenue drop them (NULL is not true), so the result "
            "is the inner join's",
    },
    "03-never-ordered": {
        ("customers_without_orders: return a generator",): GENERATOR,
        ("customers_without_orders: commit before return",): COMMIT_READ},
    "03-page-after": {
        ("page_after: return a generator",): GENERATOR,
        ("page_after: commit before return",): COMMIT_READ,
        ("no None case: id > (last_id or 0)",): "ids are positive: id > 0 keeps every customer, so the first "
                                                "page is the same, in one statement with WHERE, ORDER BY, LIMIT",
    },
    "03-safe-search": {
        ("search_emails: return a generator",): GENERATOR,
        ("search_emails: commit before return",): COMMIT_READ},
    "04-author-books": {
        ("Author: Mapped[int] -> Optional",): PK_OPTIONAL,
        ("Author: Mapped[str] -> Optional", "Book: Mapped[str] -> Optional", "Author.name: add unique=True",
         "Book.title: add unique=True"): NOT_STATED,
        ("Author.id: add index=True", "Author.name: add index=True", "Book.id: add index=True",
         "Book.title: add index=True", "Book.author_id: add index=True"): NO_INDEX_RULE,
    },
    "04-recipe-ingredients": {
        ("Recipe: Mapped[int] -> Optional",): PK_OPTIONAL,
        ("Recipe: Mapped[str] -> Optional", "Ingredient: Mapped[str] -> Optional",
         "Recipe.name: add unique=True"): NOT_STATED,
        ("Recipe.id: add index=True", "Recipe.name: add index=True", "Ingredient.id: add index=True",
         "Ingredient.name: add index=True"): NO_INDEX_RULE,
    },
    "04-cart-orphans": {
        ("Cart: Mapped[int] -> Optional",): PK_OPTIONAL,
        ("Cart: Mapped[str] -> Optional", "CartLine: Mapped[str] -> Optional", "CartLine: Mapped[int] -> Optional #3",
         "Cart.owner: add unique=True", "CartLine.sku: add unique=True"): NOT_STATED,
        ("Cart.id: add index=True", "Cart.owner: add index=True", "CartLine.id: add index=True",
         "CartLine.cart_id: add index=True", "CartLine.sku: add index=True"): NO_INDEX_RULE,
    },
    "04-tag-product": {
        ("tag_product.product: .get() -> .get_one()",):
            "the product exists: get_one() returns it as get() does (the task defines no missing product)",
        ("tag_product.tag: .one() -> .first()",): "tag names are unique: one() and first() return the same tag",
        ("tag_product.tag: Tag.name == tag_name -> .contains()", "tag_product.tag: Tag.name == tag_name -> .like()",
         "tag_product.tag: Tag.name == tag_name -> .startswith()"):
            "no tag name contains or starts another, none has a LIKE wildcard, and the task defines no "
            "call with a name that is not a tag: the same tag is found",
    },
    "04-delete-customer": {
        ("delete_customer: commit in every loop iteration", "delete_customer: commit in every loop iteration #2"):
            "the task asks to delete and commit, not for one transaction; committing after each "
            "child (children first) leaves the same rows",
        ("delete_customer.customer: .get() -> .get_one()",):
            "the customer exists: get_one() returns it as get() does",
    },
    "05-customers-orders": {
        ("customers_with_orders: return a generator",): GENERATOR,
        ("customers_with_orders: commit before return",): COMMIT_READ},
    "05-order-lines": {
        ("orders_with_lines: return a generator",): GENERATOR,
        ("orders_with_lines: commit before return",): COMMIT_READ,
        # (these two exist once the answer writes joinedload(OrderItem.product, innerjoin=True), as on branch l2)
        ("orders_with_lines.stmt: drop innerjoin=True", "orders_with_lines.stmt: innerjoin=True -> False"):
            "order_items.product_id is NOT NULL: the outer join finds the same product for every item, "
            "in the same statements (for an answer that writes innerjoin=True)",
        ("orders_with_lines.stmt: joinedload(OrderItem.product) -> selectinload",
         "orders_with_lines.stmt: joinedload(OrderItem.product) -> subqueryload",
         "orders_with_lines.stmt: selectinload(Order.items) -> subqueryload"):
            "3 statements at most, however many orders: the task's bound; it rules out only lazy "
            "loading here (subqueryload is ruled out by exercise 1's text alone)",
    },
    "05-order-customer": {
        ("order_with_customer: commit before return",): COMMIT_READ,
        ("order_with_customer: .one() -> .first()",): "WHERE orders.id = :id matches one row: first() is that row",
        ("order_with_customer.stmt: drop innerjoin=True", "order_with_customer.stmt: innerjoin=True -> False"):
            "still one statement with the customer joined; the task does not ask for an inner join "
            "(orders.customer_id is NOT NULL, so the outer join finds the same customer)",
    },
    "05-raiseload": {
        ("strict_orders: return a generator",): GENERATOR,
        ("strict_orders: commit before return",): COMMIT_READ,
        ("strict_orders.stmt: selectinload(Order.items) -> subqueryload",):
            "order.items loaded in 2 statements, as the task allows; it names no loader for the items",
        ("strict_orders.stmt: Order.status == status -> .contains()", "strict_orders.stmt: Order.status == status -> .like()",
         "strict_orders.stmt: Order.status == status -> .startswith()"): STATUS_SET,
    },
    "05-contains-eager": {
        ("customers_with_cancelled_orders: return a generator",): GENERATOR,
        ("customers_with_cancelled_orders: commit before return",): COMMIT_READ,
        ("customers_with_cancelled_orders.stmt: Order.status == 'cancelled' -> .contains()",
         "customers_with_cancelled_orders.stmt: Order.status == 'cancelled' -> .like()",
         "customers_with_cancelled_orders.stmt: Order.status == 'cancelled' -> .startswith()"): STATUS_SET,
        ("customers_with_cancelled_orders.stmt: .join() -> .outerjoin()",):
            "WHERE orders.status = 'cancelled' drops the NULL rows the outer join adds: the same single "
            "join, the same rows",
    },
    "08-order-total": {
        ("upgrade_total: drop nullable=True",): "nullable=True is add_column's default",
        ("upgrade_total.orders: Numeric -> Float", "upgrade_total.orders: Numeric(...) -> Numeric(12, 4)",
         "upgrade_total.items: Numeric -> Float", "upgrade_total.items: Numeric(...) -> Numeric(12, 4)"):
            "the types of a lightweight sa.table() only shape bound parameters; the UPDATE's SQL and result are the same",
        ("upgrade_total: Numeric -> Float #2", "upgrade_total: Numeric(...) -> Numeric(12, 4) #2"):
            "existing_type in alter_column(nullable=False) describes the column, it does not change it",
    },
    "08-split-name": {
        ("upgrade_split: sa.String(100) length + 10 #3", "upgrade_split: sa.String(100) -> Text #3",
         "upgrade_split: sa.String(100) length + 10 #4", "upgrade_split: sa.String(100) -> Text #4"):
            "existing_type in alter_column(nullable=False) describes the column, it does not change it",
    },
    "08-expand-title": {
        ("upgrade_title: drop nullable=True",): "nullable=True is the default of a Column",
    },
}


def equivalent_reason(exercise: str, mutant: str, backend: str | None = None) -> str | None:
    for ids, reason in EQUIVALENT.get(exercise, {}).items():
        if mutant in ids:
            return reason
    return backend_equivalent(exercise, mutant, backend) if backend else None


def backend_equivalent(exercise: str, mutant: str, backend: str) -> str | None:
    """The reason when ``mutant`` is correct on ``backend`` only (see ``EQUIVALENT_ON``)."""
    for ids, reason in EQUIVALENT_ON.get(backend, {}).get(exercise, {}).items():
        if mutant in ids:
            return reason
    return None


def matches(pattern: str, mutant: str) -> bool:
    return mutant.startswith(pattern[:-1]) if pattern.endswith("*") else mutant == pattern


# Equivalent on one backend only: the steps the tasks ask for on PostgreSQL alone (lock_timeout,
# NOT VALID + VALIDATE, CONCURRENTLY) are dead code or ignored on SQLite, where the lesson says what
# differs; and the SQLite branch is dead code on PostgreSQL. Where a step is required, the mutants
# must be killed (REQUIREMENTS_ON).
EQUIVALENT_ON: dict[str, dict[str, dict[tuple[str, ...], str]]] = {
    "postgresql": {
        "08-fk-not-valid": {
            ("upgrade_fk: drop statement batch.create_foreign_key(FK_NAME, 'orders', ['o...",):
                "the SQLite branch of the answer (batch mode) does not run on PostgreSQL",
        },
    },
    # On SQLite the PostgreSQL-only steps are judged on the SQL the migration renders for PostgreSQL in
    # Alembic's offline mode (the answer's PostgreSQL branch runs there): no equivalents left.
    "sqlite": {},
}

# Requirements that exist on one backend only (checked only there).
REQUIREMENTS_ON: dict[str, dict[str, dict[str, tuple[str, list[str]]]]] = {
    "sqlite": {
        "08-fk-not-valid": {
            "batch mode": ("SQLite: the foreign key added in batch mode",
                           ["upgrade_fk: drop statement batch.create_foreign_key*"]),
        },
    },
    "postgresql": {},
}
# The PostgreSQL steps: checked on PostgreSQL on the statements sent, on SQLite on the SQL rendered
# for PostgreSQL offline.
_PG_STEPS: dict[str, dict[str, tuple[str, list[str]]]] = {
        "08-expand-title": {
            "lock_timeout": ("PostgreSQL: SET lock_timeout before the ALTER TABLE",
                             ["upgrade_title: drop statement op.execute(\"SET LOCAL lock_timeout = '2s'\")"]),
        },
        "08-fk-not-valid": {
            "lock_timeout": ("PostgreSQL: SET lock_timeout before the ALTER TABLE",
                             ["upgrade_fk: drop statement op.execute(\"SET LOCAL lock_timeout = '2s'\")"]),
            "NOT VALID": ("PostgreSQL: the constraint added NOT VALID", ["upgrade_fk: postgresql_not_valid=True -> False",
                                                                         "upgrade_fk: drop statement op.create_foreign_key*"]),
            "VALIDATE": ("PostgreSQL: then VALIDATE CONSTRAINT", ["PostgreSQL: no VALIDATE"]),
        },
        "08-index-concurrently": {
            "CONCURRENTLY": ("PostgreSQL: CREATE INDEX CONCURRENTLY", ["upgrade_index: postgresql_concurrently=True -> False"]),
            "autocommit block": ("PostgreSQL: outside the migration's transaction", ["no autocommit block"]),
            "drop CONCURRENTLY": ("PostgreSQL: downgrade drops it CONCURRENTLY", ["downgrade not concurrently"]),
        },
}
for _backend in ("sqlite", "postgresql"):
    for _ex, _reqs in _PG_STEPS.items():
        REQUIREMENTS_ON[_backend].setdefault(_ex, {}).update(_reqs)


# The feedback must name the real cause: for these mutants, the grader's message must contain
# the text given (a wrong cause was once reported for several of them; see issue 6).
CAUSES: dict[str, dict[str, str]] = {
    "00-count-customers": {"count in Python (len)": "counted them in Python",
                           "highest id instead of COUNT": "Expected",
                           "hard-coded number": "no SQL"},
    "01-shipment-indexes": {"second index on tracking_code": "redundant",
                            "Shipment.id: add index=True": "primary key"},
    "01-timestamp-mixin": {"TimestampMixin: Mapped[dt.datetime | None] -> Mapped[dt.datetime]": "optional"},
    "01-soft-delete": {"aware but not UTC (+02:00)": "in UTC"},
    "02-add-customer": {"a commit per row": "2 commits", "commit inside Session.begin()": "inside `with"},
    "02-set-statuses": {"set_statuses: commit in every loop iteration": "inside `with Session.begin()",
                        "missing ids skipped": "999999 does not exist"},
    "02-import-reviews": {"import_reviews: commit in every loop iteration": "inside `with Session.begin()",
                          "ratings checked in Python": "checked the rules in Python",
                          "no savepoint per row": "own savepoint"},
    "02-customer-by-name": {"customer_by_name: Customer.name == name -> .contains()": "partial match",
                            "customer_by_name: .one_or_none() -> .first()": "MultipleResultsFound"},
    "03-customers-in-country": {"customers_in.stmt: order_by drop term Customer.id": "tie-break",
                                "customers_in.stmt: where moved into Python (Customer.country == country)": "no WHERE"},
    "03-category-revenue": {"category_revenue.stmt: drop .where(Order.status != 'cancelled')": "cancelled",
                            "category_revenue.stmt: drop .join(OrderItem.order)": "too high",
                            "category_revenue.stmt: order_by drop term Category.name": "tie-break",
                            "category_revenue.stmt: revenue >= min_revenue: >= -> >": ">=, not >",
                            "revenue as float": "Decimal"},
    "03-never-ordered": {"customers_without_orders.stmt: .outerjoin() -> .join()": "inner join",
                         "customers_without_orders: return []": "found none",
                         "customer.orders read in a loop": "N+1"},
    "03-page-after": {"OFFSET instead of keyset": "filter on the id",
                      "page_after.stmt: limit moved into Python (slice)": "no LIMIT"},
    "03-safe-search": {"term pasted into the SQL": "SQL injection"},
    "04-author-books": {"Author.books: drop back_populates='author'": "not linked in memory",
                        "Book: Mapped[int] -> Optional #2": "allows NULL"},
    "04-cart-orphans": {"Cart.lines: cascade='all, delete-orphan' -> 'delete-orphan'": "save-update",
                        "Cart.lines: cascade='all, delete-orphan' -> 'all'": "delete-orphan",
                        "Cart.lines: cascade='all, delete-orphan' -> 'save-update, merge, delete-orphan'":
                            "session.delete(cart)"},
    "04-tag-product": {"tags replaced, not appended": "lost tags", "INSERT by hand": "outside the ORM's flush",
                       "no check for an existing tag": "already had the tag"},
    "04-delete-customer": {"delete_customer: drop statement session.delete(order)": "set the foreign key of orders",
                           "Core delete of the customer alone": "refused DELETE FROM customers"},
    "05-customers-orders": {"customers_with_orders.stmt: selectinload(Customer.orders) -> noload": "noload",
                            "customers_with_orders.stmt: selectinload(Customer.orders) -> subqueryload": "subqueryload",
                            "customers_with_orders.stmt: selectinload(Customer.orders) -> joinedload": ".unique()"},
    "05-order-lines": {"orders_with_lines.stmt: drop chained .joinedload(...)": "item.product was loaded lazily",
                       "orders_with_lines.stmt: joinedload(OrderItem.product) -> noload": "noload"},
    "05-order-customer": {"order_with_customer.stmt: drop .options(joinedload(Order.customer, innerjoin=...)":
                          "lazy"},
    "05-raiseload": {"strict_orders.stmt: raiseload('*') -> noload": "noload",
                     "strict_orders.stmt: raiseload('*') -> selectinload": "loaded other relationships",
                     "strict_orders.stmt: raiseload('*') -> lazyload": "lazy SELECT instead of raising",
                     "raiseload on Order.customer only": "raiseload('*')"},
    "05-contains-eager": {"customers_with_cancelled_orders.stmt: contains_eager(Customer.orders) -> noload": "noload",
                          "customers_with_cancelled_orders.stmt: contains_eager(Customer.orders) -> joinedload":
                              "joined 2 times",
                          "customers_with_cancelled_orders: return []": "no SQL"},
}


# ---------------------------------------------------------------- lesson 07 (bulk operations)
# Kept in one block so that lessons developed in parallel do not edit the same lines.
_ONE_INSERT = "session.execute(insert(OrderItem), lines)"
_PRICES = 'session.execute(update(Product), [{"id": pid, "price": price} for pid, price in new_prices.items()])'
_ARCHIVE = "return session.execute(stmt).rowcount"
_UPSERT_SET = ('stmt = stmt.on_conflict_do_update(\n        index_elements=[Customer.email],\n'
               '        set_={"name": stmt.excluded.name, "country": stmt.excluded.country},\n    )')

REQUIREMENTS.update({
    "07-import-lines": {
        "rows": ("the 5,000 given lines end up in order_items", ["import_lines: drop statement session.execute(insert(OrderItem), lines)",
                                                              "half the lines"]),
        "commit": ("committed", ["import_lines: drop statement session.commit()"]),
        "at most 5 INSERT calls": ("at most ceil(5,000 / 1,000) = 5 INSERT driver calls, no INSERT per line",
                                   ["one INSERT per line"]),
        "no ORM objects": ("no ORM objects (no OrderItem(...), add_all or .returning(OrderItem))",
                           ["add_all of OrderItem objects", "RETURNING objects", "bulk_save_objects"]),
        "existing lines kept": ("the lines already in the table stay", ["delete the existing lines first"]),
    },
    "07-update-prices": {
        "prices": ("the given products get the new prices", ["update_prices: drop statement session.execute(update(Product), [{'id': pid, '...",
                                                             "one price for all"]),
        "commit": ("committed", ["update_prices: drop statement session.commit()"]),
        "one UPDATE call": ("one UPDATE driver call for all of them", ["one UPDATE per product"]),
        "no SELECT": ("without reading the products", ["load and set each product"]),
        "others unchanged": ("no other product changes", ["every product updated", "no WHERE, CASE for all"]),
        "other columns unchanged": ("nothing but the price changes", ["names changed too"]),
    },
    "07-cancel-stale-orders": {
        "the right rows": ("pending orders created before the cutoff become cancelled, nothing else",
                           ["cancel_stale_orders.stmt: Order.status == 'pending': == -> !=",
                            "cancel_stale_orders.stmt: Order.created_at < cutoff: < -> <="]),
        "one UPDATE ... WHERE": ("one UPDATE with a WHERE clause, not one per order",
                                 ["cancel_stale_orders.stmt: drop .where(Order.status == 'pending', Order.created_at < cutoff)",
                                  "loop over loaded orders", "cancel_stale_orders: return None"]),
        "rowcount": ("returns the number of orders cancelled", ["return the result", "return a constant"]),
        "no commit": ("does not commit", ["cancel_stale_orders: commit before return"]),
        "synchronized": ("loaded orders show the new status without a reload",
                         ["synchronize_session=False", "expire instead of synchronize"]),
        "both backends": ("runs on SQLite and PostgreSQL alike (fetch, not a Python evaluation)",
                          ["synchronize_session auto", "synchronize_session evaluate"]),
    },
    "07-upsert-customers": {
        "existing updated": ("existing customers get the new name and country",
                             ["do nothing on conflict", "name only"]),
        "keep created_at": ("existing customers keep their created_at", ["created_at updated too"]),
        "new inserted": ("the others are inserted", ["upsert_customers: drop statement session.execute(stmt, rows)"]),
        "commit": ("committed", ["upsert_customers: drop statement session.commit()"]),
        "one INSERT ... ON CONFLICT": ("one INSERT ... ON CONFLICT for all rows", ["one upsert per row"]),
        "no SELECT": ("no SELECT to find out which exist", ["look up first"]),
        # the swapped test (postgresql.insert on SQLite, sqlite.insert on PostgreSQL): killed on SQLite by
        # the grader's dry run for PostgreSQL (it compiles what the answer builds for a PostgreSQL session)
        "dialect insert chosen": ("the insert() chosen by the dialect's name (runs on both)",
                                  ["the SQLite insert hard-coded",
                                   "upsert_customers.dialect_insert: session.get_bind().dialect.name == 'p...: == -> !="]),
    },
    "07-export-lines": {
        "every line": ("write() once per order line, with its four values",
                       ["export_lines: drop statement write(item.order_id, item.product_id, item.quan...",
                        "export_lines: .scalars() -> .execute()"]),
        "sorted by the database": ("sorted by (order_id, product_id) by the database",
                                   ["export_lines.stmt: drop .order_by(OrderItem.order_id, OrderItem.product_id)",
                                    "export_lines.stmt: order_by drop term OrderItem.*",
                                    "export_lines.stmt: order_by reverse OrderItem.*",
                                    "export_lines.stmt: order_by moved into Python (sorted)"]),
        "one SELECT": ("one SELECT", ["export_lines: commit in every loop iteration"]),
        "yield_per": ("run with yield_per, batches of at most 500 rows", ["no yield_per", "batches of 5000"]),
        "as it arrives": ("each line written as it arrives (no .all())", ["all() before the loop"]),
        "count": ("returns the number of lines written", ["export_lines: return None"]),
    },
})

TEXT_MUTANTS.update({
    "07-import-lines": [
        ("add_all of OrderItem objects", _ONE_INSERT, "session.add_all([OrderItem(**line) for line in lines])"),
        ("one INSERT per line", _ONE_INSERT,
         "for line in lines:\n        session.execute(insert(OrderItem).values(**line))"),
        ("RETURNING objects", _ONE_INSERT, "session.scalars(insert(OrderItem).returning(OrderItem), lines).all()"),
        ("half the lines", _ONE_INSERT, "session.execute(insert(OrderItem), lines[: len(lines) // 2])"),
        ("bulk_save_objects", _ONE_INSERT, "session.bulk_save_objects([OrderItem(**line) for line in lines])"),
        ("delete the existing lines first", _ONE_INSERT,
         "session.execute(OrderItem.__table__.delete())\n    " + _ONE_INSERT),
    ],
    "07-update-prices": [
        ("load and set each product", _PRICES,
         "for pid, price in new_prices.items():\n        session.get(Product, pid).price = price"),
        ("one UPDATE per product", _PRICES,
         "for pid, price in new_prices.items():\n"
         "        session.execute(update(Product).where(Product.id == pid).values(price=price))"),
        ("one price for all", _PRICES,
         "session.execute(update(Product).where(Product.id.in_(new_prices))"
         ".values(price=next(iter(new_prices.values()))))"),
        ("every product updated", _PRICES,
         "session.execute(update(Product), [{\"id\": pid, \"price\": new_prices.get(pid, 1)} for pid in range(1, 121)])"),
        ("names changed too", _PRICES,
         'session.execute(update(Product), [{"id": pid, "price": price, "name": "X"} for pid, price in new_prices.items()])'),
        ("no WHERE, CASE for all", _PRICES,
         "from sqlalchemy import case\n"
         "    session.execute(update(Product).values(price=case(new_prices, value=Product.id, else_=Product.price)))"),
    ],
    "07-cancel-stale-orders": [
        ("synchronize_session=False", 'synchronize_session="fetch"', "synchronize_session=False"),
        ("synchronize_session auto", 'synchronize_session="fetch"', 'synchronize_session="auto"'),
        ("synchronize_session evaluate", 'synchronize_session="fetch"', 'synchronize_session="evaluate"'),
        ("expire instead of synchronize", [('synchronize_session="fetch"', "synchronize_session=False"),
                                           (_ARCHIVE, "n = session.execute(stmt).rowcount\n"
                                                      "    session.expire_all()\n    return n")]),
        ("loop over loaded orders", _ARCHIVE,
         'orders = session.scalars(select(Order).where(Order.status == "pending", Order.created_at < cutoff)).all()\n'
         '    for order in orders:\n        order.status = "cancelled"\n    session.flush()\n    return len(orders)'),
        ("return the result", _ARCHIVE, "return session.execute(stmt)"),
        ("return a constant", _ARCHIVE, "session.execute(stmt)\n    return 1"),
    ],
    "07-upsert-customers": [
        ("do nothing on conflict", _UPSERT_SET, "stmt = stmt.on_conflict_do_nothing(index_elements=[Customer.email])"),
        ("name only", ', "country": stmt.excluded.country}', "}"),
        ("created_at updated too", '"country": stmt.excluded.country}',
         '"country": stmt.excluded.country, "created_at": stmt.excluded.created_at}'),
        ("one upsert per row", "session.execute(stmt, rows)", "for row in rows:\n        session.execute(stmt, [row])"),
        ("the SQLite insert hard-coded",
         'dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert',
         "dialect_insert = sqlite.insert"),
        ("look up first", "session.execute(stmt, rows)",
         "for row in rows:\n"
         '        found = session.scalars(select(Customer).where(Customer.email == row["email"])).one_or_none()\n'
         "        if found is None:\n            session.add(Customer(**row))\n"
         '        else:\n            found.name, found.country = row["name"], row["country"]'),
    ],
    "07-export-lines": [
        ("no yield_per", "\n        .execution_options(yield_per=500)", ""),
        ("batches of 5000", "yield_per=500", "yield_per=5000"),
        ("all() before the loop", "for item in session.scalars(stmt):", "for item in session.scalars(stmt).all():"),
    ],
})

EQUIVALENT.update({
    "07-cancel-stale-orders": {
        ("cancel_stale_orders.stmt: Order.status == 'pending' -> .contains()",
         "cancel_stale_orders.stmt: Order.status == 'pending' -> .like()",
         "cancel_stale_orders.stmt: Order.status == 'pending' -> .startswith()"): STATUS_SET,
    },
    "07-export-lines": {
        ("export_lines: commit before return",): COMMIT_READ,
    },
})

CAUSES.update({
    "07-import-lines": {"add_all of OrderItem objects": "OrderItem objects", "one INSERT per line": "one INSERT per line",
                        "RETURNING objects": ".returning(OrderItem)", "bulk_save_objects": "bulk_save_objects",
                        "delete the existing lines first": "sent a DELETE"},
    "07-update-prices": {"load and set each product": "loaded the products first",
                         "one UPDATE per product": "one per product", "names changed too": "name",
                         "no WHERE, CASE for all": "no WHERE clause"},
    "07-cancel-stale-orders": {"synchronize_session=False": "synchronize_session=False",
                          "expire instead of synchronize": "expired or refreshed",
                          "loop over loaded orders": "one by one",
                          "synchronize_session auto": "SQLite"},
    "07-upsert-customers": {"do nothing on conflict": "on_conflict_do_nothing", "look up first": "SELECT",
                            "created_at updated too": "created_at"},
    "07-export-lines": {"no yield_per": "not streamed", "batches of 5000": "yield_per=5000",
                        "all() before the loop": ".all()"},
})


# --------------------------------------------------------------------------
# Lesson 06 (async answers): the same entries, kept together here.  The generic operators know
# `async def`, `async for` and `await` (an added commit is awaited; "forget the await" makes the
# coroutine and never awaits it, the classic async mistake).
# --------------------------------------------------------------------------
_L06_LAZY = "a lazy load, which is IO"

REQUIREMENTS.update({
    "06-orders-no-io": {
        "orders loaded": ("each customer's orders loaded, no IO after the function returns",
                          ["customers_with_orders.stmt: drop .options(selectinload(Customer.orders))",
                           "customers_with_orders.stmt: selectinload(Customer.orders) -> lazyload",
                           "customers_with_orders.stmt: selectinload(Customer.orders) -> noload",
                           "customers_with_orders.stmt: selectinload(Customer.orders) -> raiseload",
                           "explicit second select, result thrown away", "touch orders inside"]),
        "at most 2 statements": ("at most 2 statements, not subqueryload",
                                 ["refresh each customer", "customers_with_orders.stmt: selectinload(Customer.orders) -> subqueryload"]),
        "joinedload needs unique": ("joinedload only with .unique()",
                                    ["customers_with_orders.stmt: selectinload(Customer.orders) -> joinedload"]),
        "country filter in SQL": ("the customers of that country, filtered by the query (equality)",
                                  ["customers_with_orders.stmt: drop .where(Customer.country == country)",
                                   "customers_with_orders.stmt: where moved into Python (Customer.country == country)",
                                   "customers_with_orders.stmt: Customer.country == country: == -> !=",
                                   "customers_with_orders.stmt: Customer.country == country -> .contains()",
                                   "customers_with_orders.stmt: Customer.country == country -> .like()",
                                   "customers_with_orders.stmt: Customer.country == country -> .startswith()"]),
        "sorted by id": ("sorted by id by the database",
                         ["customers_with_orders.stmt: drop .order_by(Customer.id)",
                          "customers_with_orders.stmt: order_by reverse Customer.id",
                          "customers_with_orders.stmt: order_by moved into Python (sorted)"]),
        "a list of customers": ("returns a list of Customer objects",
                                ["customers_with_orders: return None", "customers_with_orders: return []",
                                 "customers_with_orders: .all() -> .first()", "customers_with_orders: .scalars() -> .execute()",
                                 "customers_with_orders: forget the await of session.scalars(stmt)"]),
    },
    "06-after-commit": {
        "readable after commit": ("column attributes readable without IO after the function returns",
                                  ["rename_customer: expire_on_commit=False -> True", "read the name after the commit"]),
        "the caller's factory unchanged": ("does not rely on or change the caller's factory",
                                           ["configure the caller's factory"]),
        "committed": ("the new name committed",
                      ["rename_customer: drop statement await session.commit()", "flush instead of commit",
                       "rename_customer: forget the await of session.commit()", "expunged before the change"]),
        "the customer returned": ("returns the Customer",
                                  ["rename_customer.customer: forget the await of session.get(Customer, customer_id)",
                                   "return the id"]),
        "one UPDATE, one commit": ("one UPDATE and one commit", ["commit twice with two updates"]),
    },
    "06-concurrent-counts": {
        "right counts": ("{customer_id: number of orders} for the given ids",
                         ["one.count: drop .where(Order.customer_id == customer_id)",
                          "one.count: Order.customer_id == customer_id: == -> !=", "str keys", "order_counts: return None"]),
        "concurrent": ("the queries run concurrently", ["sequential over one session"]),
        "one session per task": ("one session per task", ["gather over one session"]),
        "at most 5 at once": ("at most 5 queries at the same time", ["no semaphore", "semaphore of 10"]),
    },
    "06-stream-items": {
        "all lines, amounts as Decimal": ("sink(order_id, product_id, quantity * unit_price) for every item, Decimal",
                                          ["export_lines: drop statement sink(item.order_id, item.product_id, item.quant...",
                                           "amount as float", "unit_price only"]),
        "in order, by the database": ("in order of order_id then product_id, sorted by the database",
                                      ["export_lines.stmt: drop .order_by(OrderItem.order_id, OrderItem.product_id)",
                                       "export_lines.stmt: order_by drop term OrderItem.product_id",
                                       "export_lines.stmt: order_by drop term OrderItem.order_id",
                                       "export_lines.stmt: order_by reverse OrderItem.order_id",
                                       "export_lines.stmt: order_by reverse OrderItem.product_id",
                                       "export_lines.stmt: order_by moved into Python (sorted)"]),
        "streamed": ("streamed (stream_scalars or stream)", ["everything in memory with .all()", "scalars with yield_per"]),
        "yield_per": ("with yield_per, at most 1,000 objects at a time",
                      ["no yield_per", "yield_per 5000", "every object kept in a list"]),
        "one statement, no commit": ("one statement, reads only",
                                     ["export_lines: commit in every loop iteration"]),
    },
    "06-strict-insert": {
        "int customer id": ("customer_id converted to int (asyncpg refuses a str)", ["str customer id"]),
        "aware datetime, same instant": ("created_at an aware datetime of the form's instant",
                                         ["str created_at", "naive created_at", "offset replaced by UTC"]),
        "status pending": ("status 'pending'", ["status paid"]),
        "committed": ("committed", ["record_order: drop statement await session.commit()",
                                    "record_order: forget the await of session.commit()"]),
        "the new id returned": ("returns the new order's id", ["record_order: return None", "return the customer id"]),
        "one INSERT": ("one order inserted", ["record_order: drop statement session.add(order)", "two orders"]),
    },
})

TEXT_MUTANTS.update({
    "06-orders-no-io": [
        ("explicit second select, result thrown away", [
            (".options(selectinload(Customer.orders)))", ")"),
            ("    return (await session.scalars(stmt)).all()",
             "    customers = (await session.scalars(stmt)).all()\n"
             "    await session.scalars(select(Order).where(Order.customer_id.in_([c.id for c in customers])))\n"
             "    return customers")]),
        ("touch orders inside", [
            (".options(selectinload(Customer.orders)))", ")"),
            ("    return (await session.scalars(stmt)).all()",
             "    customers = (await session.scalars(stmt)).all()\n"
             "    for c in customers:\n        len(c.orders)\n    return customers")]),
        ("refresh each customer", [
            (".options(selectinload(Customer.orders)))", ")"),
            ("    return (await session.scalars(stmt)).all()",
             "    customers = (await session.scalars(stmt)).all()\n"
             "    for c in customers:\n        await session.refresh(c, ['orders'])\n    return customers")]),
        ("joinedload with unique", [
            ("selectinload(Customer.orders)", "joinedload(Customer.orders)"),
            ("(await session.scalars(stmt)).all()", "(await session.scalars(stmt)).unique().all()")]),
    ],
    "06-after-commit": [
        ("read the name after the commit", [
            ("session_factory(expire_on_commit=False)", "session_factory()"),
            ("        await session.commit()\n", "        await session.commit()\n        print(customer.name)\n")]),
        ("flush instead of commit", "await session.commit()", "await session.flush()"),
        ("expunged before the change", [
            ("session_factory(expire_on_commit=False)", "session_factory()"),
            ("        customer.name = new_name", "        session.expunge(customer)\n        customer.name = new_name")]),
        ("return the id", "        return customer", "        return customer.id"),
        ("commit twice with two updates", "        customer.name = new_name\n",
         "        customer.name = new_name + '!'\n        await session.commit()\n        customer.name = new_name\n"),
        ("refresh after commit, default factory", [
            ("session_factory(expire_on_commit=False)", "session_factory()"),
            ("        await session.commit()\n", "        await session.commit()\n        await session.refresh(customer)\n")]),
        ("configure the caller's factory", [
            ("    async with session_factory(expire_on_commit=False) as session:",
             "    session_factory.configure(expire_on_commit=False)\n    async with session_factory() as session:")]),
        ("expire_on_commit set on the sync session", [
            ("session_factory(expire_on_commit=False) as session:",
             "session_factory() as session:\n        session.sync_session.expire_on_commit = False")]),
    ],
    "06-concurrent-counts": [
        ("sequential over one session", [
            ("    return dict(await asyncio.gather(*(one(c) for c in customer_ids)))",
             "    return dict([await one(c) for c in customer_ids])"),
            ("        async with gate, session_factory() as session:", "        async with gate:\n            session = shared"),
            ("    gate = asyncio.Semaphore(5)", "    gate = asyncio.Semaphore(5)\n    shared = session_factory()")]),
        ("gather over one session", [
            ("        async with gate, session_factory() as session:", "        async with gate:\n            session = shared"),
            ("    gate = asyncio.Semaphore(5)", "    gate = asyncio.Semaphore(5)\n    shared = session_factory()")]),
        ("no semaphore", "async with gate, session_factory() as session:", "async with session_factory() as session:"),
        ("semaphore of 10", "asyncio.Semaphore(5)", "asyncio.Semaphore(10)"),
        ("semaphore of 3", "asyncio.Semaphore(5)", "asyncio.Semaphore(3)"),
        ("str keys", "            return customer_id, count", "            return str(customer_id), count"),
        ("count of Order.id", "select(func.count()).select_from(Order)", "select(func.count(Order.id))"),
    ],
    "06-stream-items": [
        ("everything in memory with .all()", [
            ("\n            .execution_options(yield_per=200))", ")"),
            ("    async for batch in (await session.stream_scalars(stmt)).partitions():\n        for item in batch:\n"
             "            sink(", "    for item in (await session.scalars(stmt)).all():\n        if True:\n            sink(")]),
        ("no yield_per", [("\n            .execution_options(yield_per=200))", ")")]),
        ("scalars with yield_per", [
            ("    async for batch in (await session.stream_scalars(stmt)).partitions():\n        for item in batch:\n"
             "            sink(", "    for item in (await session.scalars(stmt)).all():\n        if True:\n            sink(")]),
        ("yield_per 5000", "yield_per=200", "yield_per=5000"),
        ("every object kept in a list", [
            ("    async for batch in (await session.stream_scalars(stmt)).partitions():\n        for item in batch:\n",
             "    kept = [item async for item in await session.stream_scalars(stmt)]\n    for item in kept:\n        if True:\n")]),
        ("yield_per 50", "yield_per=200", "yield_per=50"),
        ("amount as float", "item.quantity * item.unit_price)", "float(item.quantity * item.unit_price))"),
        ("unit_price only", "item.quantity * item.unit_price)", "item.unit_price)"),
        ("async for over the streamed result", [
            ("    async for batch in (await session.stream_scalars(stmt)).partitions():\n        for item in batch:\n",
             "    async for item in await session.stream_scalars(stmt):\n        if True:\n")]),
    ],
    "06-strict-insert": [
        ("str customer id", 'customer_id=int(form["customer_id"])', 'customer_id=form["customer_id"]'),
        ("str created_at", 'created_at=dt.datetime.fromisoformat(form["created_at"])', 'created_at=form["created_at"]'),
        ("naive created_at", 'dt.datetime.fromisoformat(form["created_at"])',
         'dt.datetime.fromisoformat(form["created_at"]).replace(tzinfo=None)'),
        ("offset replaced by UTC", 'dt.datetime.fromisoformat(form["created_at"])',
         'dt.datetime.fromisoformat(form["created_at"]).replace(tzinfo=dt.timezone.utc)'),
        ("converted to UTC", 'dt.datetime.fromisoformat(form["created_at"])',
         'dt.datetime.fromisoformat(form["created_at"]).astimezone(dt.timezone.utc)'),
        ("status paid", 'status="pending"', 'status="paid"'),
        ("a Core insert with RETURNING", [
            ("    order = Order(", "    order = dict("),
            ("    session.add(order)\n", "    new_id = (await session.execute(__import__(\"sqlalchemy\").insert(Order).values(**order).returning(Order.id))).scalar_one()\n"),
            ("    return order.id", "    return new_id")]),
        ("status left to the default", ' status="pending",', ""),
        ("return the customer id", "    return order.id", "    return order.customer_id"),
        ("two orders", "    session.add(order)\n", "    session.add(order)\n    session.add(Order(customer_id=order.customer_id, "
         "status='pending', created_at=order.created_at))\n"),
    ],
})

EQUIVALENT.update({
    "06-orders-no-io": {
        ("customers_with_orders: commit before return",):
            "the commit runs before the query, when the session has no transaction yet: nothing is sent",
        ("joinedload with unique",): "the task allows joinedload with .unique() (1 statement)",
    },
    "06-after-commit": {
        ("rename_customer.customer: .get() -> .get_one()",):
            "the customer exists: get_one() returns the same object (it raises only for a missing id)",
        ("refresh after commit, default factory", "expire_on_commit set on the sync session"):
            "other correct fixes: a refresh after the commit reloads the columns (one more SELECT); the sync "
            "session's expire_on_commit=False is the factory's override, set by hand",
    },
    "06-concurrent-counts": {
        ("one.count: drop .select_from(Order)", "count of Order.id"):
            "the same count: SQLAlchemy takes the FROM from the WHERE on orders.customer_id; count(orders.id) "
            "counts the same non-null ids",
        ("semaphore of 3",): "at most 5 at a time: 3 is within the bound, and still concurrent",
    },
    "06-stream-items": {
        ("yield_per 50", "async for over the streamed result"):
            "still streamed with yield_per (smaller batches; iterating the result instead of its partitions)",
    },
    "06-strict-insert": {
        ("record_order: commit before return",):
            "a second commit with nothing pending sends nothing (the session has no transaction)",
        ("converted to UTC",): "the same instant, aware (08:30 UTC is 09:30+01:00)",
        ("status left to the default",): "orders.status defaults to 'pending' (the column's default)",
        ("a Core insert with RETURNING",): "the task asks for an inserted order, not an ORM object: "
                                           "insert(Order).values(...).returning(Order.id) meets every requirement",
    },
})

CAUSES.update({
    "06-orders-no-io": {"touch orders inside": _L06_LAZY, "explicit second select, result thrown away": "not loaded",
                        "refresh each customer": "N+1",
                        "customers_with_orders.stmt: selectinload(Customer.orders) -> joinedload": ".unique()",
                        "customers_with_orders.stmt: selectinload(Customer.orders) -> subqueryload": "subqueryload"},
    "06-after-commit": {"rename_customer: expire_on_commit=False -> True": "expire_on_commit=True",
                        "configure the caller's factory": "changed the caller's factory",
                        "read the name after the commit": _L06_LAZY, "flush instead of commit": "nothing was committed"},
    "06-concurrent-counts": {"gather over one session": "several tasks", "no semaphore": "at most 5",
                             "sequential over one session": "session"},
    "06-stream-items": {"no yield_per": "yield_per", "everything in memory with .all()": "not streamed",
                        "scalars with yield_per": "stream_scalars",
                        "amount as float": "Decimal", "every object kept in a list": "keeps references",
                        "yield_per 5000": "too many"},
    "06-strict-insert": {"str customer id": "rejects a str", "naive created_at": "naive",
                         "offset replaced by UTC": "not the form's instant"},
})
