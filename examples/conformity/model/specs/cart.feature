Feature: Cart

  @handler:add_item
  Scenario: adding an item puts it in the cart
    Given an empty cart
    When an item is added
    Then the cart holds one item
