"""Each grader of lesson 04 accepts correct answers (not only the one in solutions/) and
rejects the mistakes learners really make."""

from __future__ import annotations

import warnings
from typing import List  # noqa: UP035  (an alternative spelling learners use)

import pytest
from sqlalchemy import Column, ForeignKey, Integer, String, Table, UniqueConstraint, delete, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, backref, mapped_column, relationship

from sqlacourse import check
from sqlacourse.shop import Customer, CustomerProfile, Order, OrderItem, Product, Review, Tag, product_tags

# SQLAlchemy's class registry holds classes weakly: a class made inside a factory function and
# named only by a string in a relationship would be garbage-collected (a notebook's classes are
# globals, so learners never meet this). Keep every class the factories make.
_KEEP: list = []


def keep(*classes):
    _KEEP.append(classes)
    return classes[0]


# -- 04-author-books ----------------------------------------------------------
def authors(books_rel=None, author_rel=None, fk_col=None):
    class Base(DeclarativeBase):
        pass

    class Author(Base):
        __tablename__ = "authors"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(100))
        books: Mapped[list[Book]] = books_rel if books_rel is not None else relationship(back_populates="author")

    class Book(Base):
        __tablename__ = "books"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(200))
        author_id: Mapped[int] = fk_col if fk_col is not None else mapped_column(ForeignKey("authors.id"))
        author: Mapped[Author] = author_rel if author_rel is not None else relationship(back_populates="books")

    return keep(Author, Book)


def authors_alternative():  # strings, List[], ForeignKey(Author.id), explicit nullable=False
    class Base(DeclarativeBase):
        pass

    class Author(Base):
        __tablename__ = "authors"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        name: Mapped[str] = mapped_column(String(100), nullable=False)
        books: Mapped[List["Book"]] = relationship("Book", back_populates="author")  # noqa: UP006, UP037

    class Book(Base):
        __tablename__ = "books"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        title: Mapped[str] = mapped_column(String(200))
        author_id: Mapped[int] = mapped_column(ForeignKey(Author.id), nullable=False, index=True)
        author: Mapped["Author"] = relationship("Author", back_populates="books")  # noqa: UP037

    return keep(Author, Book)


def test_author_books_accepts():
    fb = check("04-author-books", authors())
    assert fb.passed, fb
    fb = check("04-author-books", authors_alternative())
    assert fb.passed, fb


def test_author_books_rejects_one_sided_back_populates():
    fb = check("04-author-books", authors(author_rel=relationship()))
    assert not fb.passed and "book.author = author" in fb.message, fb


def test_author_books_rejects_no_back_populates():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy warns that the two relationships overlap
        fb = check("04-author-books", authors(books_rel=relationship(), author_rel=relationship()))
    assert not fb.passed and "append(book)" in fb.message, fb


def test_author_books_rejects_nullable_fk():
    fb = check("04-author-books", authors(fk_col=mapped_column(ForeignKey("authors.id"), nullable=True)))
    assert not fb.passed and "allows NULL" in fb.message, fb


def test_author_books_rejects_missing_foreign_key():
    fb = check("04-author-books", authors(fk_col=mapped_column(Integer)))
    assert not fb.passed and "could not set up the relationships" in fb.message, fb


def test_author_books_rejects_an_instance():
    fb = check("04-author-books", authors()(name="x"))
    assert not fb.passed and "needs a class" in fb.message, fb


# -- 04-recipe-ingredients ----------------------------------------------------
def recipes(*link_extra, back_both=True, link_cols=None):
    class Base(DeclarativeBase):
        pass

    cols = link_cols if link_cols is not None else (
        Column("recipe_id", ForeignKey("recipes.id"), primary_key=True),
        Column("ingredient_id", ForeignKey("ingredients.id"), primary_key=True),
    )
    link = Table("recipe_ingredients", Base.metadata, *cols, *link_extra)

    class Recipe(Base):
        __tablename__ = "recipes"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(100))
        ingredients: Mapped[list[Ingredient]] = relationship(secondary=link, back_populates="recipes")

    class Ingredient(Base):
        __tablename__ = "ingredients"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(100), unique=True)
        recipes: Mapped[list[Recipe]] = (
            relationship(secondary=link, back_populates="ingredients") if back_both
            else relationship(secondary=link, viewonly=False)
        )

    return keep(Recipe, Ingredient)


def recipes_backref():  # alternative: a legacy backref creates the other side
    class Base(DeclarativeBase):
        pass

    link = Table("recipe_ingredients", Base.metadata,
                 Column("recipe_id", Integer, ForeignKey("recipes.id"), nullable=False),
                 Column("ingredient_id", Integer, ForeignKey("ingredients.id"), nullable=False),
                 UniqueConstraint("recipe_id", "ingredient_id"))

    class Ingredient(Base):
        __tablename__ = "ingredients"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(100), unique=True)

    class Recipe(Base):
        __tablename__ = "recipes"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(100))
        ingredients: Mapped[list[Ingredient]] = relationship(secondary=link, backref=backref("recipes"))

    return keep(Recipe, Ingredient)


def test_recipe_ingredients_accepts():
    fb = check("04-recipe-ingredients", recipes())
    assert fb.passed, fb
    fb = check("04-recipe-ingredients", recipes_backref())
    assert fb.passed, fb


def test_recipe_ingredients_rejects_a_link_without_key():
    fb = check("04-recipe-ingredients", recipes(link_cols=(
        Column("recipe_id", ForeignKey("recipes.id")),
        Column("ingredient_id", ForeignKey("ingredients.id")),
    )))
    assert not fb.passed and "twice" in fb.message, fb


def test_recipe_ingredients_rejects_one_sided_back_populates():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fb = check("04-recipe-ingredients", recipes(back_both=False))
    assert not fb.passed and "egg.recipes.append" in fb.message, fb


def test_recipe_ingredients_rejects_an_association_class():
    class Base(DeclarativeBase):
        pass

    class Recipe(Base):
        __tablename__ = "recipes"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(100))
        ingredients: Mapped[list[RecipeIngredient]] = relationship()

    class RecipeIngredient(Base):
        __tablename__ = "recipe_ingredients"
        recipe_id: Mapped[int] = mapped_column(ForeignKey("recipes.id"), primary_key=True)
        ingredient_id: Mapped[int] = mapped_column(primary_key=True)

    fb = check("04-recipe-ingredients", keep(Recipe, RecipeIngredient))
    assert not fb.passed and "secondary=" in fb.message, fb


# -- 04-cart-orphans ----------------------------------------------------------
def carts(lines_rel=None, fk_col=None):
    class Base(DeclarativeBase):
        pass

    class Cart(Base):
        __tablename__ = "carts"
        id: Mapped[int] = mapped_column(primary_key=True)
        owner: Mapped[str] = mapped_column(String(50))
        lines: Mapped[list[CartLine]] = lines_rel if lines_rel is not None else relationship(
            back_populates="cart", cascade="all, delete-orphan")

    class CartLine(Base):
        __tablename__ = "cart_lines"
        id: Mapped[int] = mapped_column(primary_key=True)
        cart_id: Mapped[int] = fk_col if fk_col is not None else mapped_column(ForeignKey("carts.id"))
        sku: Mapped[str] = mapped_column(String(20))
        quantity: Mapped[int]
        cart: Mapped[Cart] = relationship(back_populates="lines")

    return keep(Cart, CartLine)


def test_cart_orphans_accepts():
    fb = check("04-cart-orphans", carts())
    assert fb.passed, fb
    spelled_out = carts(relationship(back_populates="cart", cascade="save-update, merge, delete, delete-orphan"))
    assert check("04-cart-orphans", spelled_out).passed
    by_database = carts(
        relationship(back_populates="cart", cascade="all, delete-orphan", passive_deletes=True),
        mapped_column(ForeignKey("carts.id", ondelete="CASCADE")),
    )
    fb = check("04-cart-orphans", by_database)
    assert fb.passed, fb


@pytest.mark.parametrize("make, says", [
    (lambda: carts(relationship(back_populates="cart")), "orphaned, not deleted"),
    (lambda: carts(relationship(back_populates="cart", cascade="all")), "orphaned, not deleted"),
    (lambda: carts(relationship(back_populates="cart", cascade="all"),
                   mapped_column(ForeignKey("carts.id"), nullable=True)), "cart_id allows NULL"),
    (lambda: carts(relationship(back_populates="cart", cascade="save-update, delete-orphan")),
     "session.delete(cart)"),
], ids=["default-cascade", "all-without-delete-orphan", "nullable-fk", "delete-orphan-without-delete"])
@pytest.mark.filterwarnings(  # the learner's mistake on purpose: 'delete-orphan' without 'delete'
    "ignore:The 'delete-orphan' cascade option requires 'delete':sqlalchemy.exc.SAWarning")
def test_cart_orphans_rejects(make, says):
    fb = check("04-cart-orphans", make())
    assert not fb.passed and says in fb.message, fb


# -- 04-tag-product -----------------------------------------------------------
def tag_append(session, product_id, tag_name):
    product = session.get(Product, product_id)
    tag = session.scalars(select(Tag).where(Tag.name == tag_name)).one()
    if tag not in product.tags:
        product.tags.append(tag)
    session.commit()


def tag_from_the_tag_side(session, product_id, tag_name):  # alternative: the other side's list
    tag = session.scalars(select(Tag).where(Tag.name == tag_name)).one()
    product = session.get(Product, product_id)
    if product not in tag.products:
        tag.products.append(product)
    session.commit()


def tag_core_insert(session, product_id, tag_name):  # wrong: bypasses the relationship
    tag_id = session.scalar(select(Tag.id).where(Tag.name == tag_name))
    exists = session.scalar(select(product_tags.c.tag_id).where(
        product_tags.c.product_id == product_id, product_tags.c.tag_id == tag_id))
    if exists is None:
        session.execute(insert(product_tags).values(product_id=product_id, tag_id=tag_id))
    session.commit()


def tag_replace(session, product_id, tag_name):
    product = session.get(Product, product_id)
    product.tags = [session.scalars(select(Tag).where(Tag.name == tag_name)).one()]
    session.commit()


def tag_no_check(session, product_id, tag_name):
    product = session.get(Product, product_id)
    product.tags.append(session.scalars(select(Tag).where(Tag.name == tag_name)).one())
    session.commit()


def tag_no_commit(session, product_id, tag_name):
    product = session.get(Product, product_id)
    tag = session.scalars(select(Tag).where(Tag.name == tag_name)).one()
    if tag not in product.tags:
        product.tags.append(tag)
    session.flush()


def tag_core_insert_via_connection(session, product_id, tag_name):  # wrong: the same, lower down
    tag_id = session.scalar(select(Tag.id).where(Tag.name == tag_name))
    if tag_id not in session.scalars(select(product_tags.c.tag_id).where(
            product_tags.c.product_id == product_id)).all():
        session.connection().execute(product_tags.insert(), {"product_id": product_id, "tag_id": tag_id})
    session.commit()


def tag_with_set_and_autoflush(session, product_id, tag_name):  # alternative: a query autoflushes
    tag = session.scalars(select(Tag).where(Tag.name == tag_name)).one()
    product = session.scalars(select(Product).where(Product.id == product_id)).one()
    if tag_name not in {t.name for t in product.tags}:
        product.tags.append(tag)
    session.scalars(select(Tag.id).join(Tag.products).where(Product.id == product_id)).all()
    session.commit()


@pytest.mark.parametrize("fn", [tag_append, tag_from_the_tag_side, tag_with_set_and_autoflush])
def test_tag_product_accepts(fn):
    fb = check("04-tag-product", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (tag_replace, "lost tags"),
    (tag_no_check, "already had the tag"),
    (tag_no_commit, "never committed"),
    (tag_core_insert, "outside the ORM's flush"),
    (tag_core_insert_via_connection, "append the tag to product.tags"),
])
def test_tag_product_rejects(fn, says):
    fb = check("04-tag-product", fn)
    assert not fb.passed and says in fb.message, fb


# -- 04-delete-customer -------------------------------------------------------
def delete_orm(session, customer_id):
    customer = session.get(Customer, customer_id)
    for order in customer.orders:
        session.delete(order)
    for review in customer.reviews:
        session.delete(review)
    session.delete(customer)
    session.commit()


def delete_core(session, customer_id):  # alternative: Core statements, children first
    order_ids = select(Order.id).where(Order.customer_id == customer_id)
    session.execute(delete(OrderItem).where(OrderItem.order_id.in_(order_ids)))
    session.execute(delete(Order).where(Order.customer_id == customer_id))
    session.execute(delete(Review).where(Review.customer_id == customer_id))
    session.execute(delete(CustomerProfile).where(CustomerProfile.customer_id == customer_id))
    session.execute(delete(Customer).where(Customer.id == customer_id))
    session.commit()


def delete_parent_only(session, customer_id):
    session.delete(session.get(Customer, customer_id))
    session.commit()


def delete_core_parent_only(session, customer_id):
    session.execute(delete(Customer).where(Customer.id == customer_id))
    session.commit()


def delete_orders_without_lines(session, customer_id):
    session.execute(delete(Review).where(Review.customer_id == customer_id))
    session.execute(delete(Order).where(Order.customer_id == customer_id))
    session.execute(delete(CustomerProfile).where(CustomerProfile.customer_id == customer_id))
    session.execute(delete(Customer).where(Customer.id == customer_id))
    session.commit()


def delete_core_forgetting_profile(session, customer_id):
    order_ids = select(Order.id).where(Order.customer_id == customer_id)
    session.execute(delete(OrderItem).where(OrderItem.order_id.in_(order_ids)))
    session.execute(delete(Order).where(Order.customer_id == customer_id))
    session.execute(delete(Review).where(Review.customer_id == customer_id))
    session.execute(delete(Customer).where(Customer.id == customer_id))
    session.commit()


def delete_orm_children_core_parent(session, customer_id):  # the profile cascade never runs
    customer = session.get(Customer, customer_id)
    for order in customer.orders:
        session.delete(order)
    for review in customer.reviews:
        session.delete(review)
    session.flush()
    session.execute(delete(Customer).where(Customer.id == customer_id))
    session.commit()


def delete_too_much(session, customer_id):
    session.execute(delete(OrderItem))
    session.execute(delete(Order).where(Order.customer_id == customer_id))
    session.execute(delete(Review).where(Review.customer_id == customer_id))
    session.execute(delete(CustomerProfile).where(CustomerProfile.customer_id == customer_id))
    session.execute(delete(Customer).where(Customer.id == customer_id))
    session.commit()


def delete_no_commit(session, customer_id):
    customer = session.get(Customer, customer_id)
    for order in customer.orders:
        session.delete(order)
    for review in customer.reviews:
        session.delete(review)
    session.delete(customer)
    session.flush()


@pytest.mark.parametrize("fn", [delete_orm, delete_core])
def test_delete_customer_accepts(fn):
    fb = check("04-delete-customer", fn)
    assert fb.passed, fb


@pytest.mark.parametrize("fn, says", [
    (delete_parent_only, "UPDATE orders SET customer_id=NULL"),
    (delete_core_parent_only, "DELETE FROM customers"),
    (delete_orders_without_lines, "rows of order_items still refer to the rows of orders"),
    (delete_core_forgetting_profile, "rows of customer_profiles still refer to the rows of customers"),
    (delete_orm_children_core_parent, "customer_profiles before customers"),
    (delete_too_much, "order_items"),
    (delete_no_commit, "session.commit()"),
])
def test_delete_customer_rejects(fn, says):
    fb = check("04-delete-customer", fn)
    assert not fb.passed and says in fb.message, fb
