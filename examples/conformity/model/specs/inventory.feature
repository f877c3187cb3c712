Feature: Inventory

  @handler:reserve_stock
  Scenario: checkout reserves the cart's stock
    Given a cart with two items
    When stock is reserved
    Then both items are reserved
