-- grain: period, user_login, model, sku, product
-- Billed usage per month from the billing API (ai-credit-usage since 2026-06-01, premium-request-usage before),
-- one row per user, model, sku and product; user_login '' is an org-level (unfiltered) response.
-- quantity: what was used before discounts: the gross quantity, else net + discount.
SELECT period, user_login, model, sku, product, billing_kind, unit_type, price_per_unit,
       coalesce(gross_quantity, net_quantity + coalesce(discount_quantity, 0)) AS quantity,
       gross_amount, discount_amount, net_amount
FROM credit_usage
