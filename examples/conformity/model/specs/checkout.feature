Feature: Checkout

  @handler:validate_cart
  Scenario: an empty cart cannot check out
    Given an empty cart
    When checkout starts
    Then it is rejected

  @handler:send_receipt
  Scenario: a paid order gets a receipt
    Given a paid order
    When checkout completes
    Then a receipt is sent

  @handler:charge_payment
  Scenario: the cart total is charged
    Given a cart of 20.00
    When payment is taken
    Then 20.00 is charged
