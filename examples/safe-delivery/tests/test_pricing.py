"""End-to-end tests for cart-pricing: functional, integration, regression, NFR."""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "app"))
import pricing  # noqa: E402

ALL = set(pricing.TOGGLES)


class Functional(unittest.TestCase):
    def test_bulk_discount_from_ten_units(self):
        self.assertEqual(pricing.price([("tea", "2.00", 10)], toggles=ALL)["subtotal"], "18.00")

    def test_no_bulk_discount_below_ten_units(self):
        self.assertEqual(pricing.price([("tea", "2.00", 9)], toggles=ALL)["subtotal"], "18.00")

    def test_member_earns_a_point_per_whole_euro(self):
        self.assertEqual(pricing.price([("mug", "23.50", 1)], member=True, toggles=ALL)["points"], 23)

    def test_guest_earns_no_points(self):
        self.assertEqual(pricing.price([("mug", "23.50", 1)], toggles=ALL)["points"], 0)

    def test_free_shipping_from_fifty(self):
        self.assertEqual(pricing.price([("lamp", "50.00", 1)], toggles=ALL)["shipping"], "0.00")

    def test_shipping_below_fifty(self):
        self.assertEqual(pricing.price([("lamp", "49.99", 1)], toggles=ALL)["shipping"], "4.95")


class Integration(unittest.TestCase):
    def test_cart_round_trips_through_json(self):
        cart = json.loads('{"items": [["tea", "2.00", 12], ["mug", "7.25", 2]], "member": true}')
        out = pricing.price([tuple(i) for i in cart["items"]], cart["member"], ALL)
        self.assertEqual(json.loads(json.dumps(out)), out)
        self.assertEqual((out["subtotal"], out["total"], out["points"]), ("36.10", "41.05", 36))

    def test_unknown_toggle_is_rejected(self):
        with self.assertRaises(ValueError):
            pricing.price([("tea", "1.00", 1)], toggles={"teleport"})


class Regression(unittest.TestCase):
    def test_prices_unchanged_with_all_toggles_off(self):
        self.assertEqual(pricing.price([("tea", "2.00", 10)], member=True),
                         {"subtotal": "20.00", "shipping": "4.95", "total": "24.95", "points": 0})

    def test_empty_cart_costs_nothing(self):
        self.assertEqual(pricing.price([])["total"], "0.00")


class NonFunctional(unittest.TestCase):
    def test_prices_ten_thousand_carts_in_under_a_second(self):
        t0 = time.perf_counter()
        for i in range(10_000):
            pricing.price([("tea", "2.00", 1 + i % 15), ("mug", "7.25", 1)], member=bool(i % 2), toggles=ALL)
        self.assertLess(time.perf_counter() - t0, 1.0)


if __name__ == "__main__":
    unittest.main()
