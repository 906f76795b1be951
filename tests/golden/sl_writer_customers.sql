SELECT Customer.CustId, Customer.ArAcct, Customer.ArSub, Customer.Status 
FROM Customer 
WHERE Customer.CustId IN (?)
