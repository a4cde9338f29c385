"""Lesson 04 (relationships): graders that try the learner's relationships in memory and
judge the SQL that the flush writes."""

from __future__ import annotations

from sqlalchemy import Integer, event, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import RelationshipDirection, Session

from ..grading import Grading, LearnerError
from ..recorder import QueryRecorder, record_queries
from ..registry import Fail, exercise
from ..shop import Customer, CustomerProfile, Order, OrderItem, Product, Review, Tag
from ._common import (
    copy_tables,
    expect_mapped_class,
    expect_string,
    mapping_errors,
    run_recorded,
    safe_repr,
    sql_listing,
)

LESSON = "04-relationships"

ONETOMANY = RelationshipDirection.ONETOMANY
MANYTOONE = RelationshipDirection.MANYTOONE
MANYTOMANY = RelationshipDirection.MANYTOMANY


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _relationships(cls, what: str):
    """The mapper's relationships; a mapping that cannot be configured becomes a Fail."""
    try:
        return inspect(cls).relationships
    except Exception as exc:  # NoForeignKeysError, ArgumentError, InvalidRequestError ...
        raise Fail(
            f"SQLAlchemy could not set up the relationships of {what}: "
            f"{type(exc).__name__}: {_first_line(exc)}",
            "Check the ForeignKey(...) on the child's column and that each back_populates "
            "names an attribute that exists on the other class.",
        ) from None


def _relationship(cls, name: str, what: str, direction: RelationshipDirection):
    rels = _relationships(cls, what)
    if name not in rels:
        have = ", ".join(rels.keys()) or "none"
        raise Fail(f"{what} needs a relationship called {name!r}; it has: {have}.")
    rel = rels[name]
    if rel.direction is not direction:
        want = {ONETOMANY: "a list (one-to-many)", MANYTOONE: "one object (many-to-one)",
                MANYTOMANY: "a list through an association table (many-to-many)"}[direction]
        raise Fail(f"{cls.__name__}.{name} should be {want}; it is {rel.direction.name.lower()}.")
    return rel


def _table_name(cls, expected: str) -> None:
    if cls.__table__.name != expected:
        raise Fail(f"{cls.__name__} should map the table {expected!r}, it maps {cls.__table__.name!r}.")


def _need_column(cls, name: str) -> None:
    if name not in cls.__table__.c:
        have = ", ".join(cls.__table__.c.keys())
        raise Fail(f"{cls.__name__} needs a column {name!r}; its table has: {have}.")


def _fk_column(child, parent, name: str):
    _need_column(child, name)
    col = child.__table__.c[name]
    targets = {(fk.column.table.name, fk.column.name) for fk in col.foreign_keys}
    if (parent.__table__.name, "id") not in targets:
        raise Fail(f"{child.__name__}.{name} should be a foreign key to "
                   f"{parent.__table__.name}.id: ForeignKey(\"{parent.__table__.name}.id\").")
    return col


def _error_only(err: LearnerError) -> str:
    """The database's error from a learner traceback, without the frames."""
    lines = err.details.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("sqlalchemy.exc.")), 0)
    return "\n".join(line for line in lines[start:] if not line.startswith("(Background on"))


def _run_marking_flushes(g: Grading, fn, engine, *args) -> tuple[QueryRecorder, LearnerError | None, list[str], object]:
    """Like _common.run_recorded; also lists the statements sent outside any flush (the learner's own
    session.execute(...) / connection.execute(...)), as opposed to those the unit of work wrote."""
    error = None
    returned: list = []
    in_flush = [False]
    outside: list[str] = []

    def before_flush(session, flush_context, instances):
        in_flush[0] = True

    def after_flush(session, flush_context):
        in_flush[0] = False

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if not in_flush[0]:
            outside.append(" ".join(statement.split()))

    with Session(engine) as session, record_queries(engine) as rec:
        event.listen(session, "before_flush", before_flush)
        event.listen(session, "after_flush", after_flush)
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            returned.append(g.call(fn, session, *args))
        except LearnerError as exc:
            error = exc
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
    return rec, error, outside, (returned or [None])[0]


def _flush_recorded(engine, session: Session) -> tuple[QueryRecorder, IntegrityError | None]:
    with record_queries(engine) as rec:
        try:
            session.flush()
        except IntegrityError as exc:
            session.rollback()
            return rec, exc
    return rec, None


def _writes_text(statement: str, table: str) -> bool:
    """Whether one SQL statement INSERTs, UPDATEs or DELETEs rows of ``table``."""
    words = statement.lower().replace('"', "").split()
    return (len(words) > 2 and words[0] in ("insert", "delete") and words[2] == table) or \
        (len(words) > 1 and words[0] == "update" and words[1] == table)


def _writes(rec: QueryRecorder, kind: str, table: str) -> list:
    table = table.lower()
    out = []
    for s in rec.of_kind(kind):
        words = s.one_line.lower().replace('"', "").split()
        if kind == "UPDATE" and len(words) > 1 and words[1] == table:
            out.append(s)
        elif kind in ("INSERT", "DELETE") and len(words) > 2 and words[2] == table:
            out.append(s)
    return out


# ---------------------------------------------------------------------------
@exercise(
    "04-author-books",
    lesson=LESSON,
    title="One-to-many and many-to-one with back_populates",
    expects="class",
    hints=[
        "Book needs the foreign key column: `author_id: Mapped[int] = "
        "mapped_column(ForeignKey(\"authors.id\"))` (Mapped[int] without None: NOT NULL).",
        "Author gets `books: Mapped[list[Book]] = relationship(...)` and Book gets "
        "`author: Mapped[Author] = relationship(...)`.",
        "Each side names the other: `back_populates=\"author\"` on Author.books and "
        "`back_populates=\"books\"` on Book.author. With only one of them, only one direction "
        "updates in memory.",
    ],
)
def author_books(candidate, g: Grading) -> str:
    expect_mapped_class(candidate, "Author")
    _table_name(candidate, "authors")
    expect_string(candidate.__table__, "name", 100)
    books_rel = _relationship(candidate, "books", "Author", ONETOMANY)
    book_cls = books_rel.mapper.class_
    _table_name(book_cls, "books")
    expect_string(book_cls.__table__, "title", 200)
    fk = _fk_column(book_cls, candidate, "author_id")
    if fk.nullable:
        raise Fail("books.author_id allows NULL, so a book without an author would be accepted. "
                   "Annotate it Mapped[int] (not Mapped[int | None]).")
    _relationship(book_cls, "author", f"{book_cls.__name__}", MANYTOONE)

    author = g.call(candidate, name="Ursula K. Le Guin")
    first = g.call(book_cls, title="The Dispossessed")
    g.call(author.books.append, first)
    if first.author is not author:
        raise Fail("After author.books.append(book), book.author is still "
                   f"{safe_repr(first.author)}: the two sides are not linked in memory.",
                   "Add back_populates=\"author\" to Author.books.")
    second = g.call(book_cls, title="The Left Hand of Darkness")
    g.call(setattr, second, "author", author)
    if second not in author.books:
        raise Fail("After book.author = author, the book is not in author.books: the two sides "
                   "are not linked in memory.", "Add back_populates=\"books\" to Book.author.")

    md = copy_tables(candidate.__table__, book_cls.__table__)
    with g.database(data=False, metadata=md) as fresh, mapping_errors("Storing an author with two books"):
        with Session(fresh.engine) as s, record_queries(fresh.engine) as rec:
            s.add(author)
            s.commit()
            author_id = author.id
        inserts = _writes(rec, "INSERT", "books")
        with fresh.engine.connect() as conn:
            rows = conn.execute(select(book_cls.__table__.c.author_id)).scalars().all()
        if sorted(rows) != [author_id, author_id]:
            raise Fail(f"Adding the author should store 2 books with author_id={author_id}; "
                       f"the books table holds author_id values {sorted(rows)}.",
                       sql=sql_listing(rec))
        with Session(fresh.engine) as s:
            s.add(g.call(book_cls, title="No author"))
            try:
                s.flush()
                accepted = True
            except IntegrityError:
                accepted = False
        if accepted:
            raise Fail("The database accepted a book without an author; books.author_id should "
                       "be NOT NULL.")
    how = "one INSERT" if len(inserts) == 1 else f"{len(inserts)} INSERTs"
    return ("Both sides update each other in memory, and adding the author stored its 2 books "
            f"with books.author_id set ({how} into books); a book without an author is refused.")


# ---------------------------------------------------------------------------
@exercise(
    "04-recipe-ingredients",
    lesson=LESSON,
    title="Many-to-many through an association Table",
    expects="class",
    hints=[
        "The link table has no class: `recipe_ingredients = Table(\"recipe_ingredients\", "
        "KitchenBase.metadata, Column(...), Column(...))`, on the metadata of the base your classes "
        "use (so that create_all() makes it too), with Core `Column`, not `mapped_column`.",
        "Each column is a foreign key and part of the primary key: "
        "`Column(\"recipe_id\", ForeignKey(\"recipes.id\"), primary_key=True)`.",
        "Both sides: `relationship(secondary=recipe_ingredients, back_populates=...)`, "
        "`Recipe.ingredients` naming `\"recipes\"` and `Ingredient.recipes` naming `\"ingredients\"`.",
    ],
)
def recipe_ingredients(candidate, g: Grading) -> str:
    expect_mapped_class(candidate, "Recipe")
    _table_name(candidate, "recipes")
    expect_string(candidate.__table__, "name", 100)
    rels = _relationships(candidate, "Recipe")
    if "ingredients" in rels and rels["ingredients"].secondary is None:
        raise Fail("Recipe.ingredients does not go through an association table: give it "
                   "secondary=recipe_ingredients (a Core Table), not a class in between.")
    rel = _relationship(candidate, "ingredients", "Recipe", MANYTOMANY)
    ingredient_cls = rel.mapper.class_
    _table_name(ingredient_cls, "ingredients")
    expect_string(ingredient_cls.__table__, "name", 100)
    link = rel.secondary
    if link.name != "recipe_ingredients":
        raise Fail(f"The association table should be called 'recipe_ingredients', it is {link.name!r}.")
    _relationship(ingredient_cls, "recipes", ingredient_cls.__name__, MANYTOMANY)

    recipe = g.call(candidate, name="Pancakes")
    flour = g.call(ingredient_cls, name="flour")
    egg = g.call(ingredient_cls, name="egg")
    g.call(recipe.ingredients.append, flour)
    if recipe not in flour.recipes:
        raise Fail("After recipe.ingredients.append(flour), flour.recipes does not contain the "
                   "recipe: the sides are not linked in memory.",
                   "Add back_populates=\"recipes\" to Recipe.ingredients.")
    g.call(egg.recipes.append, recipe)
    if egg not in recipe.ingredients:
        raise Fail("After egg.recipes.append(recipe), recipe.ingredients does not contain egg: "
                   "the sides are not linked in memory.",
                   "Add back_populates=\"ingredients\" to Ingredient.recipes.")

    md = copy_tables(candidate.__table__, ingredient_cls.__table__, link)
    with g.database(data=False, metadata=md) as fresh, mapping_errors("Storing a recipe with its ingredients"):
        with Session(fresh.engine) as s, record_queries(fresh.engine) as rec:
            s.add(recipe)
            s.commit()
            rid, fid, eid = recipe.id, flour.id, egg.id
        link_inserts = _writes(rec, "INSERT", link.name)
        ids = (link.c.recipe_id, link.c.ingredient_id) if {"recipe_id", "ingredient_id"} <= set(link.c.keys()) \
            else None
        if ids is None:
            raise Fail("recipe_ingredients should have the columns 'recipe_id' and 'ingredient_id'; "
                       f"it has: {', '.join(link.c.keys())}.")
        with fresh.engine.connect() as conn:
            pairs = sorted(tuple(r) for r in conn.execute(select(*ids)))
        if pairs != sorted([(rid, fid), (rid, eid)]):
            raise Fail(f"After adding the recipe with 2 ingredients, recipe_ingredients holds {pairs}.",
                       sql=sql_listing(rec))

        with Session(fresh.engine) as s:
            r = s.get(candidate, rid)
            f = s.get(ingredient_cls, fid)
            r.ingredients.remove(f)
            rec2, err = _flush_recorded(fresh.engine, s)
            if err is None:
                s.commit()
        if err is not None or not _writes(rec2, "DELETE", link.name) or \
                _writes(rec2, "DELETE", ingredient_cls.__table__.name):
            raise Fail("Removing an ingredient from recipe.ingredients should delete one link row "
                       "and keep the ingredient.", sql=sql_listing(rec2))

        with fresh.engine.connect() as conn:
            conn.execute(insert(link).values({ids[0].key: rid, ids[1].key: fid}))
            try:
                conn.execute(insert(link).values({ids[0].key: rid, ids[1].key: fid}))
                twice = True
            except IntegrityError:
                twice = False
            conn.rollback()
        if twice:
            raise Fail("recipe_ingredients accepted the same (recipe, ingredient) pair twice. Make "
                       "the two columns together the primary key (primary_key=True on both).")
        with Session(fresh.engine) as s:
            s.add(g.call(ingredient_cls, name="flour"))
            try:
                s.flush()
                same_name = True
            except IntegrityError:
                same_name = False
            s.rollback()
        if same_name:
            raise Fail("A second ingredient called 'flour' was accepted: Ingredient.name should be "
                       "unique (mapped_column(String(100), unique=True)).")
    return ("Recipe.ingredients and Ingredient.recipes stay in step; adding a recipe wrote its links "
            f"({link_inserts[0].one_line if link_inserts else 'INSERT INTO recipe_ingredients'}), "
            "removing one deleted a link row only, and a pair cannot be stored twice.")


# ---------------------------------------------------------------------------
@exercise(
    "04-cart-orphans",
    lesson=LESSON,
    title="A cascade that deletes orphaned cart lines",
    expects="class",
    hints=[
        "The default cascade is \"save-update, merge\": removing a line from cart.lines makes the "
        "ORM set its cart_id to NULL, and deleting the cart does the same to every line.",
        "Two cascades are needed: \"delete\" (deleting the cart deletes its lines) and "
        "\"delete-orphan\" (a line removed from the list is deleted).",
        "`lines: Mapped[list[CartLine]] = relationship(back_populates=\"cart\", "
        "cascade=\"all, delete-orphan\")`.",
    ],
)
def cart_orphans(candidate, g: Grading) -> str:
    expect_mapped_class(candidate, "Cart")
    _table_name(candidate, "carts")
    expect_string(candidate.__table__, "owner", 50)
    rel = _relationship(candidate, "lines", "Cart", ONETOMANY)
    line_cls = rel.mapper.class_
    _table_name(line_cls, "cart_lines")
    expect_string(line_cls.__table__, "sku", 20)
    _need_column(line_cls, "quantity")
    if not isinstance(line_cls.__table__.c.quantity.type, Integer):
        raise Fail(f"cart_lines.quantity should be an integer, it is {line_cls.__table__.c.quantity.type!r}.")
    fk = _fk_column(line_cls, candidate, "cart_id")
    if fk.nullable:
        raise Fail("cart_lines.cart_id allows NULL; the task wants it NOT NULL: annotate it "
                   "Mapped[int] (not Mapped[int | None]).")
    _relationship(line_cls, "cart", line_cls.__name__, MANYTOONE)

    probe_cart = g.call(candidate, owner="probe")
    probe_line = g.call(line_cls, sku="PRB-1", quantity=1)
    g.call(probe_cart.lines.append, probe_line)
    if probe_line.cart is not probe_cart:
        raise Fail("After cart.lines.append(line), line.cart is not the cart: the two sides are "
                   "not linked in memory.", "Add back_populates=\"cart\" to Cart.lines.")
    other_line = g.call(line_cls, sku="PRB-2", quantity=1)
    g.call(setattr, other_line, "cart", probe_cart)
    if other_line not in probe_cart.lines:
        raise Fail("After line.cart = cart, the line is not in cart.lines: the two sides are not "
                   "linked in memory.", "Add back_populates=\"lines\" to CartLine.cart.")

    md = copy_tables(candidate.__table__, line_cls.__table__)
    with g.database(data=False, metadata=md) as fresh, mapping_errors("Storing a cart with three lines"):
        cart = g.call(candidate, owner="ann")
        for sku in ("PHN-00012", "CYC-00002", "BK-00031"):
            g.call(cart.lines.append, g.call(line_cls, sku=sku, quantity=1))
        with Session(fresh.engine) as s:
            s.add(cart)
            s.commit()
            cart_id = cart.id
        lines = line_cls.__table__
        with fresh.engine.connect() as conn:
            stored = conn.scalar(select(func.count()).select_from(lines))
        if stored != 3:
            raise Fail(f"session.add(cart) with 3 lines in cart.lines stored {stored} lines: without "
                       "\"save-update\" in the cascade (\"all\" includes it) adding the cart does not "
                       "add its lines. Use cascade=\"all, delete-orphan\".")

        def lines_of_cart(conn):
            return conn.scalar(select(func.count()).select_from(lines).where(lines.c.cart_id == cart_id))

        # 1. remove one line from the collection
        with Session(fresh.engine) as s:
            c = s.get(candidate, cart_id)
            c.lines.remove(c.lines[0])
            rec, err = _flush_recorded(fresh.engine, s)
            if err is None:
                s.commit()
        if err is not None:
            raise Fail("Removing a line from cart.lines made the flush set its cart_id to NULL "
                       "(the line was orphaned, not deleted), and the NOT NULL column refused it. "
                       "Add \"delete-orphan\" to the cascade.", sql=sql_listing(rec))
        if _writes(rec, "UPDATE", lines.name) or not _writes(rec, "DELETE", lines.name):
            raise Fail("Removing a line from cart.lines should DELETE its row; the flush kept it "
                       "as an orphan instead. Add \"delete-orphan\" to the cascade.",
                       sql=sql_listing(rec))
        removed = _writes(rec, "DELETE", lines.name)[0].one_line

        # 2. delete the cart
        with Session(fresh.engine) as s:
            s.delete(s.get(candidate, cart_id))
            rec2, err = _flush_recorded(fresh.engine, s)
            if err is None:
                s.commit()
        if err is not None:
            raise Fail("session.delete(cart) made the flush set the lines' cart_id to NULL "
                       "(or the database refused to delete a cart that lines still refer to). "
                       "Add \"delete\" to the cascade (\"all\" includes it).", sql=sql_listing(rec2))
        with fresh.engine.connect() as conn:
            left = lines_of_cart(conn)
            carts_left = conn.scalar(select(func.count()).select_from(candidate.__table__))
        if left or carts_left:
            raise Fail(f"After session.delete(cart) and a commit, {carts_left} cart(s) and {left} "
                       "of its lines are still there.", sql=sql_listing(rec2))
    return f"A removed line is deleted ({removed}), and deleting the cart deletes its lines."


# ---------------------------------------------------------------------------
def _tags_of(engine, product_id: int) -> set[str]:
    with Session(engine) as s:
        return set(s.scalars(select(Tag.name).join(Tag.products).where(Product.id == product_id)))


@exercise(
    "04-tag-product",
    lesson=LESSON,
    title="Tag a product through the relationship",
    hints=[
        "Load the product with session.get(Product, product_id) and the tag with "
        "select(Tag).where(Tag.name == tag_name).",
        "product.tags is a list: product.tags.append(tag) makes the flush INSERT one row into "
        "product_tags. Assigning product.tags = [tag] replaces the list and deletes the others.",
        "Appending a tag the product already has INSERTs the same pair again, which the primary "
        "key refuses: `if tag not in product.tags:` first. Then session.commit().",
    ],
)
def tag_product(candidate, g: Grading) -> str:
    with g.database() as fresh:
        with Session(fresh.engine) as s:
            counts = (select(Product.id).join(Product.tags).group_by(Product.id)
                      .having(func.count(Tag.id) >= 2).order_by(Product.id))
            pid, other_pid = s.scalars(counts.limit(2)).all()
            before = _tags_of(fresh.engine, pid)
            new_tag = s.scalars(select(Tag.name).where(Tag.name.not_in(before)).order_by(Tag.id)).first()
            other_before = _tags_of(fresh.engine, other_pid)
            existing = sorted(other_before)[0]

        rec, err, outside, returned = _run_marking_flushes(g, candidate, fresh.engine, pid, new_tag)
        if err is not None:
            raise err
        by_hand = [s for s in outside if _writes_text(s, "product_tags")]
        if by_hand:
            raise Fail("Your code wrote to product_tags itself "
                       f"({' '.join(by_hand[0].split()[:3])} ...), outside the ORM's flush. This "
                       "exercise practises the relationship: append the tag to product.tags and "
                       "let the flush write the INSERT.", sql=sql_listing(rec))
        after = _tags_of(fresh.engine, pid)
        deletes = _writes(rec, "DELETE", "product_tags")
        if deletes or not before <= after:
            raise Fail(f"Product {pid} lost tags: it had {sorted(before)}, now {sorted(after)}. "
                       "Assigning product.tags = [...] replaces the whole list (a DELETE for each "
                       "tag left out); append to it instead.", sql=sql_listing(rec))
        if new_tag not in after:
            hint = ("" if rec.committed or not _writes(rec, "INSERT", "product_tags")
                    else " The INSERT was sent but never committed: end with session.commit().")
            raise Fail(f"Product {pid} should now carry the tag {new_tag!r}; its tags are "
                       f"{sorted(after)}.{hint}", sql=sql_listing(rec))
        if _writes(rec, "INSERT", "tags"):
            raise Fail("The tag exists already: load it, do not create a new Tag row.",
                       sql=sql_listing(rec))
        inserted = _writes(rec, "INSERT", "product_tags")
        if returned is not None:
            raise Fail(f"Product {pid} was tagged correctly, but the function returned a {type(returned).__name__}; "
                       "the task says it returns nothing (None).")

        _, rec2, err = run_recorded(g, candidate, fresh.engine, other_pid, existing)
        if err is not None:
            if "IntegrityError" in err.message:
                raise Fail(f"Product {other_pid} already had the tag {existing!r}: appending it "
                           "again made the flush INSERT the same pair, and the primary key of "
                           "product_tags refused it. Check `if tag not in product.tags` first.",
                           _error_only(err), sql=sql_listing(rec2))
            raise err
        if _writes(rec2, "INSERT", "product_tags") or _writes(rec2, "DELETE", "product_tags") \
                or _tags_of(fresh.engine, other_pid) != other_before:
            raise Fail(f"Product {other_pid} already had the tag {existing!r}: nothing should "
                       "change, and your code wrote to product_tags.", sql=sql_listing(rec2))
    return (f"One row added to product_tags ({inserted[0].one_line if inserted else 'INSERT'}), "
            "no DELETE, committed; a tag the product already has is left alone.")


# ---------------------------------------------------------------------------
def _customer_footprint(engine, customer_id: int) -> dict[str, int]:
    with Session(engine) as s:
        order_ids = select(Order.id).where(Order.customer_id == customer_id)
        return {
            "customers": s.scalar(select(func.count()).where(Customer.id == customer_id)),
            "customer_profiles": s.scalar(select(func.count()).where(CustomerProfile.customer_id == customer_id)),
            "orders": s.scalar(select(func.count()).where(Order.customer_id == customer_id)),
            "order_items": s.scalar(select(func.count()).where(OrderItem.order_id.in_(order_ids))),
            "reviews": s.scalar(select(func.count()).where(Review.customer_id == customer_id)),
        }


def _still_referring(rec: QueryRecorder, table: str, mine: dict[str, int]) -> list[str]:
    """The child tables of ``table`` (foreign keys to it) where the customer had rows and that the
    learner's code sent no DELETE to before the refused statement (the last one)."""
    children = sorted({t.name for t in Customer.metadata.sorted_tables
                       for fk in t.foreign_keys if fk.column.table.name == table})
    children = [c for c in children if mine.get(c, 1)]
    earlier = rec.statements[:-1]
    missing = [c for c in children if not any(_writes_text(s.one_line, c) and
                                              s.kind == "DELETE" for s in earlier)]
    return missing or children


def _totals(engine) -> dict[str, int]:
    with Session(engine) as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                for m in (Customer, CustomerProfile, Order, OrderItem, Review)}


@exercise(
    "04-delete-customer",
    lesson=LESSON,
    title="Delete a customer with everything that refers to them",
    hints=[
        "session.delete(customer) alone fails: Customer.orders and Customer.reviews have no "
        "delete cascade, so the ORM tries UPDATE orders SET customer_id=NULL.",
        "Delete the children first. Order.items has cascade=\"all, delete-orphan\", so "
        "session.delete(order) takes its lines along; reviews have no children.",
        "for order in customer.orders: session.delete(order); the same for customer.reviews; then "
        "session.delete(customer) (its profile cascades) and session.commit(). delete() "
        "statements work too, children first: order_items, orders, reviews, profile, customer.",
    ],
)
def delete_customer(candidate, g: Grading) -> str:
    with g.database() as fresh:
        with Session(fresh.engine) as s:
            cid = s.scalars(
                select(Customer.id).join(Customer.orders).join(Customer.reviews)
                .join(Customer.profile).group_by(Customer.id).order_by(Customer.id)
            ).first()
        mine = _customer_footprint(fresh.engine, cid)
        before = _totals(fresh.engine)

        _, rec, err = run_recorded(g, candidate, fresh.engine, cid)
        if err is not None:
            last = rec.statements[-1].one_line if rec.statements else ""
            words = last.upper().split()
            if "IntegrityError" in err.message and words[:1] == ["UPDATE"]:
                table = words[1].lower() if len(words) > 1 else "a child table"
                raise Fail(f"The flush tried to set the foreign key of {table} to NULL "
                           f"({last.split('=')[0]}=NULL), and the NOT NULL column refused. "
                           "session.delete(customer) does not delete the orders and reviews (no "
                           "delete cascade on those relationships): the ORM detaches them. "
                           "Delete them first.", _error_only(err), sql=sql_listing(rec))
            if "IntegrityError" in err.message and words[:2] == ["DELETE", "FROM"]:
                table = last.split()[2].strip('"').lower() if len(words) > 2 else "a table"
                still = _still_referring(rec, table, mine)
                refs = (", ".join(still[:-1]) + " and " + still[-1]) if len(still) > 1 else \
                    (still[0] if still else "other tables")
                raise Fail(f"The database refused DELETE FROM {table}: rows of {refs} still refer "
                           f"to the rows of {table}. A delete() statement runs no ORM cascade, so delete "
                           f"those children first ({refs} before {table}).",
                           _error_only(err), sql=sql_listing(rec))
            raise err
        left = _customer_footprint(fresh.engine, cid)
        after = _totals(fresh.engine)
        if left == mine and not rec.committed:
            raise Fail("Nothing was deleted for good: end with session.commit().", sql=sql_listing(rec))
        leftovers = {k: v for k, v in left.items() if v}
        if leftovers:
            what = ", ".join(f"{v} {k}" for k, v in leftovers.items())
            raise Fail(f"Customer {cid} still has rows after your function: {what}.",
                       sql=sql_listing(rec))
        for table, n in before.items():
            if after[table] != n - mine[table]:
                raise Fail(f"{table}: {n - after[table]} rows were deleted, {mine[table]} belonged to "
                           f"customer {cid}. Delete only their rows (WHERE ...).", sql=sql_listing(rec))
    gone = ", ".join(f"{k}: {v}" for k, v in mine.items() if k != "customers")
    return (f"Customer {cid} and everything that referred to them ({gone}) deleted, children first, "
            f"in {rec.count} statements, and committed.")
